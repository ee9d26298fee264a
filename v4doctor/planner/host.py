"""The host a plan is for: GPUs, RAM and disk read from Facts, or a hypothetical host spelled `8xH200`.

    hypothetical("8xH200", ram_gib=1024, disk_gib=2000, driver="580.65.06")  -> Facts (nothing read from this machine)
    host_of(facts, kb) -> Host(count=8, gpu_key="H200", mem_gib=140.4, family=hopper, ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from v4doctor.errors import UsageError
from v4doctor.facts import DiskFacts, Facts, GpuDevice, GpuFacts, NotApplicable, SystemFacts, TargetFacts, Unknown, known
from v4doctor.knowledge.kb import KnowledgeBase

GIB = 1 << 30
HYPOTHETICAL = "hypothetical host: not given"
HF_CACHE = "~/.cache/huggingface/hub"


@dataclass(frozen=True)
class Host:
    """What the planner needs to know about the GPUs, RAM and disk (None: not read)."""

    count: int
    gpu_name: str | None
    gpu_key: str | None
    mem_gib: float  # per GPU, the smallest
    family: dict[str, Any] | None
    free_fraction: float | None  # the smallest free share of a GPU's memory (other processes hold the rest)
    ram_bytes: int | None
    disk_free: int | None
    disk_path: str | None
    driver: str | None
    source: str
    nodes: int = 1  # identical nodes of `count` GPUs each (plan --nodes, or the answered GPU nodes of a fleet snapshot)

    @property
    def total_gpus(self) -> int:
        return self.count * self.nodes

    @property
    def gpu_mem_gib_text(self) -> str:
        return f"{self.mem_gib:.1f} GiB each"

    def to_dict(self) -> dict[str, Any]:
        return {"gpus": self.count, "gpu": self.gpu_name, "gpu_key": self.gpu_key, "gpu_mem_gib": round(self.mem_gib, 2),
                "gpu_family": self.family["key"] if self.family else None, "ram_gib": _gib(self.ram_bytes),
                "disk_free_gib": _gib(self.disk_free), "disk_path": self.disk_path, "driver": self.driver, "source": self.source,
                "nodes": self.nodes}


def _gib(n: int | None) -> float | None:
    return None if n is None else round(n / GIB, 2)


def _value(x: Any) -> Any:
    return x if known(x) else None


def host_of(facts: Facts, kb: KnowledgeBase) -> Host:
    """The Host of a facts snapshot; a GPU fact that could not be read counts as no GPU."""
    gpu, system = facts.gpu, facts.system
    devs = [d for d in (gpu.devices if known(gpu) and known(gpu.devices) else []) if known(d.memory_total_bytes)]
    first = devs[0] if devs else None
    record = kb.gpu(str(first.name)) if first is not None and known(first.name) else None
    family = _family(kb, _value(first.compute_capability) if first else None)
    disks = system.disks if known(system) else []
    disk = disks[0] if disks else None
    return Host(
        count=len(devs), gpu_name=str(first.name) if first is not None and known(first.name) else None,
        gpu_key=record["key"] if record else None, mem_gib=min((d.memory_total_bytes for d in devs), default=0) / GIB,
        family=family, free_fraction=_free(devs), ram_bytes=_value(system.ram_total_bytes) if known(system) else None,
        disk_free=_value(disk.free_bytes) if disk else None, disk_path=disk.path if disk else None,
        driver=_value(gpu.driver_version) if known(gpu) else None, source=facts.source)


def _family(kb: KnowledgeBase, cc: str | None) -> dict[str, Any] | None:
    return next((f for f in kb.records("gpu_family") if cc in f.get("compute_capabilities", [])), None) if cc else None


def _free(devs: list[GpuDevice]) -> float | None:
    shares = [1 - d.memory_used_bytes / d.memory_total_bytes for d in devs if known(d.memory_used_bytes) and d.memory_total_bytes]
    return min(shares) if shares else None


# --------------------------------------------------------------------------- hypothetical hosts
def hypothetical(gpus: str, kb: KnowledgeBase, *, ram_gib: float | None = None, disk_gib: float | None = None,
                 driver: str | None = None) -> Facts:
    """Facts for `COUNTxGPU` (GPU memory from the knowledge base's NVML reading, else its spec figure); nothing is read."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×*]\s*(\S+)\s*", gpus or "")
    if not m or not 1 <= int(m.group(1)) <= 64:
        raise UsageError(f"--gpus {gpus!r}: expected COUNTxGPU with 1 to 64 GPUs, e.g. 8xH200")
    record = kb.gpu(m.group(2))
    if record is None:
        raise UsageError(f"--gpus: unknown GPU {m.group(2)!r}; known: {', '.join(g['key'] for g in kb.records('gpu'))}")
    for name, value in (("--ram-gib", ram_gib), ("--disk-gib", disk_gib)):
        if value is not None and not 0 <= value <= 1 << 20:
            raise UsageError(f"{name} {value:g}: expected 0 to 1048576")
    if driver is not None and not re.fullmatch(r"\d{3}(\.\d+){1,2}", driver):
        raise UsageError(f"--driver {driver!r}: expected an NVIDIA driver version such as 580.65.06")
    memory = record.get("memory_bytes_nvml") or int(record["memory_gib"] * GIB)
    devices = [GpuDevice(index=i, name=(record.get("nvml_names") or [record["name"]])[0], memory_total_bytes=memory,
                         memory_used_bytes=0, compute_capability=record["compute_capability"], mig_enabled=False,
                         processes=[]) for i in range(int(m.group(1)))]
    return Facts(target=TargetFacts(model="flash", engine="vllm"),
                 gpu=GpuFacts(driver_version=driver or Unknown(HYPOTHETICAL), cuda_driver_version=_cuda_for(kb, driver),
                              devices=devices, topology=Unknown(HYPOTHETICAL)),
                 system=_system(ram_gib, disk_gib), python=Unknown(HYPOTHETICAL), hub=Unknown(HYPOTHETICAL),
                 docker=Unknown(HYPOTHETICAL), gguf=NotApplicable("hypothetical host: no GGUF files"), source="spec")


def _system(ram_gib: float | None, disk_gib: float | None) -> SystemFacts:
    ram = int(ram_gib * GIB) if ram_gib is not None else Unknown(HYPOTHETICAL)
    disks = [DiskFacts(path=HF_CACHE, free_bytes=int(disk_gib * GIB), total_bytes=int(disk_gib * GIB))] if disk_gib is not None else []
    return SystemFacts(os="Linux", kernel=Unknown(HYPOTHETICAL), arch=Unknown(HYPOTHETICAL), cpu_model=Unknown(HYPOTHETICAL),
                       cpu_count=Unknown(HYPOTHETICAL), ram_total_bytes=ram, ram_available_bytes=ram,
                       shm_bytes=Unknown(HYPOTHETICAL), in_container=False, disks=disks)


def _cuda_for(kb: KnowledgeBase, driver: str | None) -> str | Unknown:
    """The newest CUDA the driver runs, from the knowledge base's CUDA <-> driver floors."""
    if driver is None:
        return Unknown(HYPOTHETICAL)
    have = tuple(int(p) for p in driver.split("."))
    ok = [r["cuda"] for r in kb.records("cuda_driver") if have >= tuple(int(p) for p in r["min_driver"].split("."))]
    return max(ok, key=lambda c: tuple(int(p) for p in c.split("."))) if ok else Unknown(f"driver {driver} is below every CUDA floor v4doctor knows")
