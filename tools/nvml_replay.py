"""Replay a recorded NVML reading (tools/nvml_probe.py output) as a module-like NVML.

`RecordedNvml(reading)` exposes the `nvml*` functions the GPU collector calls and
answers each from the reading's `calls`; where the host raised, it raises the same
error class: a real `pynvml.NVMLError_NotSupported` for "NVMLError_NotSupported: …",
a `TypeError` for a recorded TypeError. A call the reading does not hold raises
`NotRecorded`, so a test can tell "the host said no" from "nobody asked the host".
Device handles are the device indices.
"""

from __future__ import annotations

import builtins
from types import SimpleNamespace
from typing import Any

from nvml_probe import DEVICE_CALLS  # run from tools/ on sys.path (tests and probe_to_facts add it)


class NotRecorded(LookupError):
    """The reading holds no answer for this call."""


def _raise_recorded(error: str) -> None:
    """Re-raise "NVMLError_NotSupported: Not Supported" or "TypeError: …" as that class."""
    import pynvml

    kind, _, message = error.partition(": ")
    if kind.startswith("NVMLError_") and hasattr(pynvml, kind):
        raise getattr(pynvml, kind)()
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        raise cls(message)
    raise RuntimeError(error)


class RecordedNvml:
    """A stand-in for the `pynvml` module, answering from one recorded host."""

    nvmlMemory_v2 = 0x02000028  # as in pynvml

    def __init__(self, reading: dict[str, Any]):
        self.calls = reading["calls"]
        self.device_count = reading.get("device_count", 0)
        self.asked: list[str] = []

    def _answer(self, key: str) -> Any:
        self.asked.append(key)
        entry = self.calls.get(key)
        if entry is None:
            raise NotRecorded(f"the reading has no answer for {key}")
        if not entry["ok"]:
            _raise_recorded(entry["error"])
        return entry["value"]

    def __getattr__(self, name: str) -> Any:
        """Single-handle device calls come from the table the probe records with."""
        keys = {fn: key for key, fn in DEVICE_CALLS.items()}
        if name in keys:
            return lambda handle: self._answer(f"dev{handle}.{keys[name]}")
        if name.startswith("nvmlSystem") or name == "nvmlInit":
            return lambda: self._answer(name)
        raise AttributeError(name)

    def nvmlShutdown(self) -> None:
        return None

    def nvmlDeviceGetCount(self) -> int:
        return self._answer("nvmlDeviceGetCount") if "nvmlDeviceGetCount" in self.calls else self.device_count

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if f"dev{index}.handle" in self.calls:
            self._answer(f"dev{index}.handle")
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int, version: int | None = None) -> SimpleNamespace:
        if version:
            return SimpleNamespace(**self._answer(f"dev{handle}.memory_v2"))
        self._answer(f"dev{handle}.memory")
        total, used = self._answer(f"dev{handle}.memory_total"), self._answer(f"dev{handle}.memory_used")
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetPciInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(busId=self._answer(f"dev{handle}.pci_bus_id").encode())

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(**p) for p in self._answer(f"dev{handle}.processes")]

    def nvmlSystemGetProcessName(self, pid: int) -> str:
        return self._answer(f"process{pid}.name")

    def nvmlDeviceGetNvLinkState(self, handle: int, link: int) -> int:
        return self._answer(f"dev{handle}.nvlink{link}.state")

    def nvmlDeviceGetNvLinkRemoteDeviceType(self, handle: int, link: int) -> int:
        return self._answer(f"dev{handle}.nvlink{link}.remote_type")

    def nvmlDeviceGetNvLinkRemotePciInfo(self, handle: int, link: int) -> SimpleNamespace:
        return SimpleNamespace(busId=self._answer(f"dev{handle}.nvlink{link}.remote_bus_id").encode())

    def nvmlDeviceGetTopologyCommonAncestor(self, a: int, b: int) -> int:
        return self._answer(f"pair{a}_{b}.common_ancestor")

    def nvmlDeviceGetP2PStatus(self, a: int, b: int, index: int) -> int:
        if index != 0:
            raise NotRecorded(f"only the P2P READ status (index 0) is recorded, not index {index!r}")
        return self._answer(f"pair{a}_{b}.p2p_read")
