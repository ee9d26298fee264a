"""GPU facts through NVML (nvidia-ml-py, imported as `pynvml`, only when collecting).

Every NVML call goes through `_call`: a call that raises becomes `Unknown` for that
leaf only ("NVML NotSupported: nvmlDeviceGetRetiredPagesPendingStatus"), so one
unsupported query on one GPU never hides the rest. `collect(nvml=...)` takes any
module-like object with the same functions, which is how tests replay a recorded host.
"""

from __future__ import annotations

from typing import Any

from v4doctor.facts import GpuDevice, GpuFacts, GpuLink, GpuProcess, RemappedRows, Unknown, known

NO_DRIVER = "no NVIDIA driver: libnvidia-ml not found"

# nvmlGpuTopologyLevel_t -> the words `nvidia-smi topo -m` prints (its legend explains them).
TOPOLOGY_WORDS = {0: "PIX", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
NVLINK_MAX_LINKS = 18  # Hopper has 18 NVLinks per GPU; Blackwell too
# pynvml defines NVML_P2P_CAPS_INDEX_READ as the tuple `(0,)` (a stray comma), which ctypes
# refuses; pass the enum's value itself.
_P2P_CAPS_INDEX_READ = 0
_P2P_STATUS_OK = 0
_NVLINK_DEVICE_TYPE_SWITCH = 2
_MEMORY_V2 = 0x02000028  # pynvml.nvmlMemory_v2: the struct version NVML checks


def collect(nvml: Any = None) -> GpuFacts | Unknown:
    """Read driver, devices and GPU-to-GPU topology; never raises."""
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return Unknown("nvidia-ml-py is not installed, so NVML cannot be read")
    started = _init(nvml)
    if not isinstance(started, bool):
        return started
    try:
        return _read(nvml)
    finally:
        _call(nvml, "nvmlShutdown")


def _init(nvml: Any) -> bool | Unknown:
    """Start NVML; a missing library or driver is the one failure that hides all GPU facts."""
    try:
        nvml.nvmlInit()
        return True
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        if type(exc).__name__ == "NVMLError_LibraryNotFound":
            return Unknown(NO_DRIVER)
        return Unknown(f"NVML could not start: {_describe(exc)}")


def _read(nvml: Any) -> GpuFacts:
    count = _call(nvml, "nvmlDeviceGetCount")
    facts = GpuFacts(
        driver_version=_call(nvml, "nvmlSystemGetDriverVersion"),
        cuda_driver_version=_cuda_version(_call(nvml, "nvmlSystemGetCudaDriverVersion")),
        nvml_version=_call(nvml, "nvmlSystemGetNVMLVersion"),
    )
    if not known(count):
        facts.devices = facts.topology = count
        return facts
    handles = [_call(nvml, "nvmlDeviceGetHandleByIndex", i) for i in range(count)]
    facts.devices = [_device(nvml, i, h) for i, h in enumerate(handles)]
    facts.topology = _topology(nvml, handles, facts.devices)
    return facts


def _cuda_version(raw: int | Unknown) -> str | Unknown:
    """NVML gives the CUDA driver API version as 1000*major + 10*minor: 13000 -> "13.0"."""
    if not known(raw):
        return raw
    return f"{raw // 1000}.{raw % 1000 // 10}"


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _call(nvml: Any, name: str, *args: Any) -> Any:
    """Call one NVML function; any failure becomes Unknown naming the call."""
    try:
        return _text(getattr(nvml, name)(*args))
    except Exception as exc:
        kind = type(exc).__name__
        if kind.startswith("NVMLError_"):
            return Unknown(f"NVML {kind[len('NVMLError_'):]}: {name}")
        return Unknown(f"{name} failed: {_describe(exc)}")


def _device(nvml: Any, index: int, handle: Any) -> GpuDevice:
    if not known(handle):
        return GpuDevice(index, handle, handle, handle, handle)
    total, used, reserved = _memory(nvml, handle)
    return GpuDevice(
        index=index,
        name=_call(nvml, "nvmlDeviceGetName", handle),
        memory_total_bytes=total,
        memory_used_bytes=used,
        memory_reserved_bytes=reserved,
        compute_capability=_capability(_call(nvml, "nvmlDeviceGetCudaComputeCapability", handle)),
        pci_bus_id=_bus_id(_call(nvml, "nvmlDeviceGetPciInfo", handle)),
        uuid=_call(nvml, "nvmlDeviceGetUUID", handle),
        mig_enabled=_first_flag(_call(nvml, "nvmlDeviceGetMigMode", handle)),
        persistence_mode=_flag(_call(nvml, "nvmlDeviceGetPersistenceMode", handle)),
        remapped_rows=_remapped(_call(nvml, "nvmlDeviceGetRemappedRows", handle)),
        retired_pages_pending=_flag(_call(nvml, "nvmlDeviceGetRetiredPagesPendingStatus", handle)),
        processes=_processes(nvml, handle),
        nvlinks_active=_nvlinks_active(nvml, handle),
    )


def _memory(nvml: Any, handle: Any) -> tuple[Any, Any, Any]:
    """(total, used, reserved) bytes. Memory info v2 keeps the driver's reservation (~616 MiB
    on an idle H200) out of `used`; v1, the fallback on older drivers, counts it as used."""
    v2 = _call(nvml, "nvmlDeviceGetMemoryInfo", handle, _MEMORY_V2)
    if known(v2):
        return v2.total, v2.used, v2.reserved
    v1 = _call(nvml, "nvmlDeviceGetMemoryInfo", handle)
    if not known(v1):
        return v1, v1, v1
    return v1.total, v1.used, Unknown(f"memory info v2 unavailable ({v2.reason}); used includes the reservation")


def _capability(pair: Any) -> str | Unknown:
    return f"{pair[0]}.{pair[1]}" if known(pair) else pair


def _bus_id(info: Any) -> str | Unknown:
    """`nvmlPciInfo_t.busId`, bytes in ctypes: b"00000000:00:06.0" -> "00000000:00:06.0"."""
    return _text(info.busId) if known(info) else info


def _flag(value: Any) -> bool | Unknown:
    return bool(value) if known(value) else value


def _first_flag(pair: Any) -> bool | Unknown:
    """MIG mode comes as [current, pending]; the current mode is what an engine meets."""
    return bool(pair[0]) if known(pair) else pair


def _remapped(rows: Any) -> RemappedRows | Unknown:
    """nvmlDeviceGetRemappedRows -> (correctable, uncorrectable, pending, failure)."""
    if not known(rows):
        return rows
    corr, unc, pending, failure = rows
    return RemappedRows(int(corr), int(unc), bool(pending), bool(failure))


def _processes(nvml: Any, handle: Any) -> list[GpuProcess] | Unknown:
    """Compute processes holding memory; the name is read when NVML may see the pid."""
    procs = _call(nvml, "nvmlDeviceGetComputeRunningProcesses", handle)
    if not known(procs):
        return procs
    out = []
    for p in procs:
        used = p.usedGpuMemory if p.usedGpuMemory is not None else Unknown("NVML reports no per-process memory")
        out.append(GpuProcess(pid=p.pid, used_bytes=used, name=_call(nvml, "nvmlSystemGetProcessName", p.pid)))
    return out


def _link_states(nvml: Any, handle: Any) -> list[Any]:
    """State of each NVLink until the first link the device does not have."""
    states = []
    for link in range(NVLINK_MAX_LINKS):
        state = _call(nvml, "nvmlDeviceGetNvLinkState", handle, link)
        if not known(state):
            return states or [state]
        states.append(state)
    return states


def _nvlinks_active(nvml: Any, handle: Any) -> int | Unknown:
    if not known(handle):
        return handle
    states = _link_states(nvml, handle)
    if len(states) == 1 and not known(states[0]):
        return states[0]
    return sum(1 for s in states if s)


def _nvlink_peers(nvml: Any, handle: Any, active: int | Unknown) -> dict[str, int]:
    """Active links by what they reach: a peer's PCI bus id, or "switch" for NVSwitch."""
    peers: dict[str, int] = {}
    if not (known(active) and active):
        return peers
    for link, state in enumerate(_link_states(nvml, handle)):
        if not (known(state) and state):
            continue
        kind = _call(nvml, "nvmlDeviceGetNvLinkRemoteDeviceType", handle, link)
        if kind == _NVLINK_DEVICE_TYPE_SWITCH:
            key = "switch"
        else:
            key = _bus_id(_call(nvml, "nvmlDeviceGetNvLinkRemotePciInfo", handle, link))
        if known(key):
            peers[key.lower()] = peers.get(key.lower(), 0) + 1
    return peers


def _topology(nvml: Any, handles: list[Any], devices: list[GpuDevice]) -> list[GpuLink] | Unknown:
    """Every GPU pair: the `nvidia-smi topo -m` word (NV# when NVLink joins them) and P2P read."""
    peers = [_nvlink_peers(nvml, h, d.nvlinks_active) if known(h) else {} for h, d in zip(handles, devices)]
    links = []
    for a in range(len(handles)):
        for b in range(a + 1, len(handles)):
            if not (known(handles[a]) and known(handles[b])):
                links.append(GpuLink(a, b, handles[a] if not known(handles[a]) else handles[b]))
                continue
            nv = _nvlink_count(peers[a], peers[b], devices[b].pci_bus_id)
            word = f"NV{nv}" if nv else _pcie_word(nvml, handles[a], handles[b])
            links.append(GpuLink(a, b, word, _p2p_read(nvml, handles[a], handles[b])))
    return links


def _nvlink_count(peers_a: dict[str, int], peers_b: dict[str, int], bus_b: Any) -> int:
    """Links from a straight to b, else the links both have into the NVSwitch fabric."""
    direct = peers_a.get(bus_b.lower(), 0) if known(bus_b) else 0
    return direct or min(peers_a.get("switch", 0), peers_b.get("switch", 0))


def _pcie_word(nvml: Any, ha: Any, hb: Any) -> str | Unknown:
    level = _call(nvml, "nvmlDeviceGetTopologyCommonAncestor", ha, hb)
    if not known(level):
        return level
    return TOPOLOGY_WORDS.get(int(level), Unknown(f"unknown NVML topology level {level}"))


def _p2p_read(nvml: Any, ha: Any, hb: Any) -> bool | Unknown:
    status = _call(nvml, "nvmlDeviceGetP2PStatus", ha, hb, _P2P_CAPS_INDEX_READ)
    return status == _P2P_STATUS_OK if known(status) else status
