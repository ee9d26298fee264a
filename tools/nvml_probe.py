#!/usr/bin/env python3
"""Record a raw reading of a GPU host: each NVML call as it answered, plus command outputs.

Usage on the GPU host: `python tools/nvml_probe.py -o host-probe.json [--xml host-nvidia-smi-q.xml]`.
The JSON has the shape of fixtures/hosts/h200-x1-probe.json: `calls` maps a key
("nvmlSystemGetDriverVersion", "dev0.name", "pair0_1.common_ancestor") to
{"ok": true, "value": ...} or {"ok": false, "error": "NVMLError_NotSupported: Not Supported"}.
UUIDs and serial numbers are replaced with zeros. `tools/probe_to_facts.py` turns the
reading into a facts snapshot, and tools/nvml_replay.py replays it through the collector.
Standard library and nvidia-ml-py only, so it runs on a bare host.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys

# Calls taking one device handle: reading key -> NVML function. The replayer reads the same table.
DEVICE_CALLS = {
    "name": "nvmlDeviceGetName",
    "uuid": "nvmlDeviceGetUUID",
    "cuda_compute_capability": "nvmlDeviceGetCudaComputeCapability",
    "architecture": "nvmlDeviceGetArchitecture",
    "brand": "nvmlDeviceGetBrand",
    "pcie_gen_max": "nvmlDeviceGetMaxPcieLinkGeneration",
    "pcie_width_max": "nvmlDeviceGetMaxPcieLinkWidth",
    "pcie_gen_cur": "nvmlDeviceGetCurrPcieLinkGeneration",
    "pcie_width_cur": "nvmlDeviceGetCurrPcieLinkWidth",
    "persistence_mode": "nvmlDeviceGetPersistenceMode",
    "mig_mode": "nvmlDeviceGetMigMode",
    "ecc_mode": "nvmlDeviceGetEccMode",
    "compute_mode": "nvmlDeviceGetComputeMode",
    "power_limit_mw": "nvmlDeviceGetPowerManagementLimit",
    "power_usage_mw": "nvmlDeviceGetPowerUsage",
    "vbios": "nvmlDeviceGetVbiosVersion",
    "board_part": "nvmlDeviceGetBoardPartNumber",
    "retired_pages_pending": "nvmlDeviceGetRetiredPagesPendingStatus",
    "remapped_rows": "nvmlDeviceGetRemappedRows",
}
SYSTEM_CALLS = ("nvmlSystemGetDriverVersion", "nvmlSystemGetCudaDriverVersion", "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetNVMLVersion")
NVLINK_MAX_LINKS = 18
ZERO_UUID = "GPU-00000000-0000-0000-0000-000000000000"
COMMANDS = {
    "nvidia_smi": ["nvidia-smi"],
    "nvidia_smi_topo": ["nvidia-smi", "topo", "-m"],
    "nvidia_smi_csv": ["nvidia-smi", "--query-gpu=index,name,driver_version,memory.total,compute_cap,pci.bus_id", "--format=csv"],
    "nvcc": ["nvcc", "--version"],
    "df": ["df", "-B1", "/", "/dev/shm"],
    "free": ["free", "-b"],
    "lscpu": ["lscpu"],
    "uname": ["uname", "-a"],
    "lsblk": ["lsblk", "-d", "-o", "NAME,ROTA,SIZE,MODEL,TRAN"],
    "torch": [sys.executable, "-c", "import torch;print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), "
              "torch.cuda.get_device_capability() if torch.cuda.is_available() else None, "
              "torch.cuda.mem_get_info() if torch.cuda.is_available() else None)"],
}


def _plain(value):
    """JSON-ready form of an NVML answer: bytes decoded, tuples as lists, structs as dicts."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")} if hasattr(value, "__dict__") else str(value)


def record(calls: dict, key: str, fn, *args) -> object:
    """Run one call and store its answer or its error exactly as raised."""
    try:
        value = fn(*args)
    except Exception as exc:
        calls[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return None
    calls[key] = {"ok": True, "value": _plain(value)}
    return value


def _derive(calls: dict, key: str, value) -> None:
    calls[key] = {"ok": True, "value": _plain(value)}


def probe_device(nvml, calls: dict, i: int):
    handle = record(calls, f"dev{i}.handle", nvml.nvmlDeviceGetHandleByIndex, i)
    calls[f"dev{i}.handle"].pop("value", None)
    if handle is None:
        return None
    for key, fn in DEVICE_CALLS.items():
        record(calls, f"dev{i}.{key}", getattr(nvml, fn), handle)
    if calls[f"dev{i}.uuid"]["ok"]:
        calls[f"dev{i}.uuid"]["value"] = ZERO_UUID
    _probe_memory_pci(nvml, calls, i, handle)
    _probe_processes(nvml, calls, i, handle)
    _probe_nvlinks(nvml, calls, i, handle)
    return handle


def _probe_memory_pci(nvml, calls: dict, i: int, handle) -> None:
    memory = record(calls, f"dev{i}.memory", nvml.nvmlDeviceGetMemoryInfo, handle)
    if memory is not None:
        _derive(calls, f"dev{i}.memory_total", memory.total)
        _derive(calls, f"dev{i}.memory_used", memory.used)
    v2 = record(calls, f"dev{i}.memory_v2", nvml.nvmlDeviceGetMemoryInfo, handle, nvml.nvmlMemory_v2)
    if v2 is not None:
        _derive(calls, f"dev{i}.memory_v2", {k: getattr(v2, k) for k in ("total", "reserved", "free", "used")})
    pci = record(calls, f"dev{i}.pci", nvml.nvmlDeviceGetPciInfo, handle)
    calls.pop(f"dev{i}.pci")
    if pci is not None:
        _derive(calls, f"dev{i}.pci_bus_id", pci.busId)


def _probe_processes(nvml, calls: dict, i: int, handle) -> None:
    procs = record(calls, f"dev{i}.processes", nvml.nvmlDeviceGetComputeRunningProcesses, handle)
    if procs is None:
        return
    _derive(calls, f"dev{i}.processes", [{"pid": p.pid, "usedGpuMemory": p.usedGpuMemory} for p in procs])
    for p in procs:
        record(calls, f"process{p.pid}.name", nvml.nvmlSystemGetProcessName, p.pid)


def _probe_nvlinks(nvml, calls: dict, i: int, handle) -> None:
    for link in range(NVLINK_MAX_LINKS):
        state = record(calls, f"dev{i}.nvlink{link}.state", nvml.nvmlDeviceGetNvLinkState, handle, link)
        if not state:
            continue
        record(calls, f"dev{i}.nvlink{link}.remote_type", nvml.nvmlDeviceGetNvLinkRemoteDeviceType, handle, link)
        pci = record(calls, f"dev{i}.nvlink{link}.remote_pci", nvml.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
        calls.pop(f"dev{i}.nvlink{link}.remote_pci")
        if pci is not None:
            _derive(calls, f"dev{i}.nvlink{link}.remote_bus_id", pci.busId)


def probe_pairs(nvml, calls: dict, handles: list) -> None:
    """Topology and P2P read status for every GPU pair (READ capability index is 0)."""
    for a, ha in enumerate(handles):
        for b in range(a + 1, len(handles)):
            hb = handles[b]
            if ha is None or hb is None:
                continue
            record(calls, f"pair{a}_{b}.common_ancestor", nvml.nvmlDeviceGetTopologyCommonAncestor, ha, hb)
            record(calls, f"pair{a}_{b}.p2p_read", nvml.nvmlDeviceGetP2PStatus, ha, hb, 0)


def probe_nvml(nvml=None) -> tuple[dict, int]:
    """Every NVML call the collector makes (and a few more), recorded; `nvml` defaults to pynvml."""
    if nvml is None:
        import pynvml as nvml

    calls: dict = {}
    record(calls, "nvmlInit", nvml.nvmlInit)
    if not calls["nvmlInit"]["ok"]:
        return calls, 0
    for name in SYSTEM_CALLS:
        record(calls, name, getattr(nvml, name))
    count = record(calls, "nvmlDeviceGetCount", nvml.nvmlDeviceGetCount) or 0
    handles = [probe_device(nvml, calls, i) for i in range(count)]
    probe_pairs(nvml, calls, handles)
    record(calls, "nvmlShutdown", nvml.nvmlShutdown)
    return calls, count


def run_command(argv: list[str]) -> dict:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"rc": None, "stdout": "", "stderr": f"{type(exc).__name__}: {exc}"}
    return {"rc": done.returncode, "stdout": scrub(done.stdout), "stderr": scrub(done.stderr)}


def scrub(text: str) -> str:
    """Zero GPU UUIDs and serial numbers: `GPU-1a2b…` and `<serial>1654…</serial>`."""
    text = re.sub(r"GPU-[0-9a-fA-F-]{36}", ZERO_UUID, text)
    return re.sub(r"<serial>\w+</serial>", lambda m: "<serial>" + "0" * (len(m.group()) - 17) + "</serial>", text)


def pip_list() -> dict:
    done = run_command([sys.executable, "-m", "pip", "list", "--format", "json"])
    try:
        return {"rc": done["rc"], "packages": json.loads(done["stdout"])}
    except ValueError:
        return {"rc": done["rc"], "packages": [], "stderr": done["stderr"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--output", required=True, help="where to write the JSON reading")
    p.add_argument("--xml", help="also write `nvidia-smi -q -x` (scrubbed) here")
    p.add_argument("--note", default="", help="a line describing the host")
    args = p.parse_args(argv)
    calls, count = probe_nvml()
    reading = {"platform": platform.platform(), "python": platform.python_version(), "calls": calls, "device_count": count}
    reading.update({key: run_command(cmd) for key, cmd in COMMANDS.items()})
    reading["pip_list"] = pip_list()
    reading["note"] = args.note or "Raw readings taken with tools/nvml_probe.py; failures recorded exactly as raised. UUID and serial replaced with zeros."
    with open(args.output, "w", encoding="utf-8") as fh:
        json.dump(reading, fh, indent=1)
    if args.xml:
        with open(args.xml, "w", encoding="utf-8") as fh:
            fh.write(run_command(["nvidia-smi", "-q", "-x"])["stdout"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
