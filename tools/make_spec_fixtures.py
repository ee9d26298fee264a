"""Build the spec fixtures under fixtures/hosts/ from documented specs, with the facts dataclasses.

    python tools/make_spec_fixtures.py            # (re)write every spec fixture
    python tools/make_spec_fixtures.py --check    # exit 1 if a committed fixture differs

Each host below names its sources. GPU memory is what NVML reports (knowledge-base
`memory_bytes_nvml`, from real readings); where no source documents a value (host RAM of a
generic server, PCIe P2P support) the fixture records Unknown(reason) instead of a guess.
Software is the same on every GPU host unless the host is about software: vLLM 0.33.0 and
SGLang 0.5.12 installed side by side so that one snapshot can be judged for each engine.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from v4doctor.facts import (  # noqa: E402
    BinaryFacts, DiskFacts, Facts, GpuDevice, GpuFacts, GpuLink, PythonFacts, RemappedRows, SystemFacts,
    NotApplicable, TargetFacts, Unknown, facts_to_json,
)
from v4doctor.knowledge.kb import load  # noqa: E402

HOSTS = ROOT / "fixtures" / "hosts"
GIB, TIB = 2**30, 2**40
NOT_DOCUMENTED = "spec fixture: not documented for this host"
DRIVER_R580 = ("580.65.06", "13.0")  # CUDA 13.0 GA driver floor (NVIDIA CUDA release notes)
GUIDE = "shared/seed/deepseek-v4-deployment-guide.md"


@dataclass
class HostSpec:
    """One documented host: GPUs, driver, system, software, and where each figure comes from."""

    name: str
    gpu_key: str | None
    count: int
    sources: list[str]
    driver: tuple[str, str] = DRIVER_R580
    link: str | None = None  # nvidia-smi topo word between every pair, None = not documented
    p2p: bool | None = None
    ram: int | None = None
    cpu: str | None = None
    cpus: int | None = None
    disk: tuple[str, int] | None = None  # (path, free bytes)
    packages: dict[str, str] = field(default_factory=dict)
    torch_cuda: str = "13.0"
    llama_build: str | None = "b9840"
    no_gpu_reason: str | None = None


_SOFTWARE = {"vllm": "0.33.0", "sglang": "0.5.12", "transformers": "5.20.2"}

SPECS = [
    HostSpec("8xh100-80g", "H100-80GB", 8, link="NV18", p2p=True, ram=2 * 10**12, cpu="Intel(R) Xeon(R) Platinum 8470", cpus=104,
             disk=("/raid", 3 * 10**12), packages=_SOFTWARE, sources=[
                 "https://github.com/mlcommons/inference_results_v3.1/blob/main/closed/Dell/systems/XE9680_H100_SXM_80GBx8_TRT.json (8x H100-SXM-80GB, 2 TB RAM, 3 TB NVMe)",
                 "https://www.nvidia.com/en-us/data-center/h100/ (H100 SXM: 18 NVLink links, 900 GB/s)",
                 f"{GUIDE} (the guide's V4-Pro setup: 8x H100 80GB)"]),
    HostSpec("4xh200", "H200", 4, link="NV18", p2p=True, packages=_SOFTWARE, sources=[
                 "https://raw.githubusercontent.com/mlcommons/inference_results_v4.1/main/closed/NVIDIA/systems/H200-SXM-141GBx8_TRT_MaxQ.json (H200-SXM-141GB, 18x 4th Gen NVLink)",
                 "shared/fixtures/hosts/h200-x1-probe.json (NVML total 150754820096 bytes per H200)",
                 f"{GUIDE} (the guide's 4x H200 141GB setup for V4-Pro)"]),
    HostSpec("8xb200", "B200", 8, link="NV18", p2p=True, ram=18 * 10**11, cpu="Intel(R) Xeon(R) Platinum 8580", cpus=120,
             disk=("/data", 10 * 10**12), packages=_SOFTWARE, sources=[
                 "https://raw.githubusercontent.com/mlcommons/inference_results_v6.0/main/closed/Nebius/systems/nebius_b200_n1.json (8x B200-SXM-180GB, 18x 5th Gen NVLink, 1.8 TB RAM, 10 TB data volume)",
                 "code index: 'NVIDIA B200 183359 MiB, compute capability 10.0'"]),
    HostSpec("1xa100-80g", "A100-80GB", 1, ram=128 * 10**9, disk=("/models", 600 * 10**9), packages=_SOFTWARE, sources=[
                 f"{GUIDE} (the 'sweet spot': V4-Flash on 1x A100 80GB at FP8; RAM 128GB, Disk 600GB NVMe)",
                 "code index: nvidia-smi 'NVIDIA A100-SXM4-80GB, 81920'"]),
    HostSpec("2xrtx4090", "RTX-4090", 2, p2p=False, ram=64 * 10**9, disk=("/models", 200 * 10**9), packages=_SOFTWARE, sources=[
                 f"{GUIDE} (2x RTX 4090 Q4 GGUF; minimum RAM 64GB, disk 200GB NVMe)",
                 "https://www.nvidia.com/en-us/geforce/graphics-cards/40-series/rtx-4090/ (no NVLink)",
                 "https://github.com/NVIDIA/nccl/issues/1127 (the RTX 4090 has no P2P with the stock driver)", "https://github.com/tinygrad/open-gpu-kernel-modules/issues/17 (P2P on 4090s needs a patched driver)"]),
    HostSpec("2xrtxpro6000", "RTX-PRO-6000", 2, packages=_SOFTWARE, sources=[
                 "https://www.nvidia.com/en-us/products/workstations/professional-desktop-gpus/rtx-pro-6000/ (96 GB GDDR7, no NVLink)",
                 "code index: 'RTX PRO 6000 Blackwell … 97,887 MiB total', compute capability 12.0"]),
    HostSpec("8xv100", "V100-32GB", 8, packages=_SOFTWARE, sources=[
                 "https://www.nvidia.com/en-us/data-center/v100/ (V100 SXM2 32GB)",
                 "code index: 'Tesla V100-SXM2-32GB, 32768 MiB, SM70'"]),
    HostSpec("driver570-vllm020-cu130", "H100-80GB", 8, driver=("570.172.08", "12.8"), link="NV18", p2p=True,
             packages={"vllm": "0.20.0", "torch": "2.11.0"}, llama_build=None, sources=[
                 "https://github.com/modelscope/FunASR/issues/2973 (torch 2.11 cu13 on an R570 / CUDA 12.8 driver: 'found version 12080')",
                 "code index: 'Driver: 570.172.08 (CUDA driver API 12080 = CUDA 12.8)'",
                 "shared/research/v4-facts-review.md §1a (vLLM 0.20.0 pins torch==2.11.0, links libcudart.so.13)"]),
    HostSpec("laptop-nogpu", None, 0, ram=32 * GIB, cpu="illustrative laptop CPU", cpus=8, disk=("/home", 200 * 10**9),
             packages={}, torch_cuda="cpu", no_gpu_reason="no NVIDIA driver: libnvidia-ml not found", sources=[
                 "illustrative: a laptop without an NVIDIA GPU (NVML library absent), 32 GiB RAM, llama.cpp b9840 on PATH"]),
]


def build(spec: HostSpec) -> Facts:
    return Facts(target=TargetFacts(model="flash", engine="vllm"), gpu=_gpu(spec), system=_system(spec), python=_python(spec),
                 binaries=_binaries(spec), hub=Unknown("spec fixture: no Hugging Face settings"),
                 docker=Unknown("spec fixture: no Docker facts"), gguf=NotApplicable("spec fixture: no GGUF files"),
                 source="spec", collected_at="", v4doctor_version="")


def _gpu(spec: HostSpec) -> GpuFacts | Unknown:
    if spec.no_gpu_reason:
        return Unknown(spec.no_gpu_reason)
    record = next(g for g in load().records("gpu") if g["key"] == spec.gpu_key)
    links = int(spec.link[2:]) if spec.link and spec.link.startswith("NV") else Unknown(NOT_DOCUMENTED)
    devices = [_device(i, record, links) for i in range(spec.count)]
    return GpuFacts(driver_version=spec.driver[0], cuda_driver_version=spec.driver[1], nvml_version=Unknown(NOT_DOCUMENTED),
                    devices=devices, topology=_topology(spec))


def _device(index: int, record: dict[str, Any], links: int | Unknown) -> GpuDevice:
    return GpuDevice(index=index, name=record["nvml_names"][0], memory_total_bytes=record["memory_bytes_nvml"],
                     memory_used_bytes=0, compute_capability=record["compute_capability"], mig_enabled=False,
                     persistence_mode=True, remapped_rows=RemappedRows(0, 0, False, False), retired_pages_pending=False,
                     processes=[], nvlinks_active=links)


def _topology(spec: HostSpec) -> list[GpuLink] | Unknown:
    if spec.count < 2:
        return []
    if spec.link is None and spec.p2p is None:
        return Unknown("spec fixture: the GPU interconnect of this host is not documented")
    link = spec.link or Unknown("spec fixture: PCIe path not documented")
    p2p = Unknown(NOT_DOCUMENTED) if spec.p2p is None else spec.p2p
    return [GpuLink(a, b, link, p2p) for a in range(spec.count) for b in range(a + 1, spec.count)]


def _system(spec: HostSpec) -> SystemFacts:
    ram = spec.ram if spec.ram is not None else Unknown(NOT_DOCUMENTED)
    shm = spec.ram // 2 if spec.ram is not None else Unknown(NOT_DOCUMENTED)  # tmpfs default: half of RAM
    disks = [DiskFacts(path=spec.disk[0], free_bytes=spec.disk[1], total_bytes=spec.disk[1], mount_point=spec.disk[0])] if spec.disk else []
    return SystemFacts(os="Linux", kernel=Unknown(NOT_DOCUMENTED), arch="x86_64", cpu_model=spec.cpu or Unknown(NOT_DOCUMENTED),
                       cpu_count=spec.cpus or Unknown(NOT_DOCUMENTED), ram_total_bytes=ram, ram_available_bytes=ram,
                       shm_bytes=shm, in_container=False, container_runtime="none", disks=disks)


def _python(spec: HostSpec) -> PythonFacts:
    names = ("vllm", "sglang", "transformers", "torch")
    packages = {n: spec.packages.get(n, Unknown("not installed")) for n in names}
    return PythonFacts(version="3.12.3", executable="/usr/bin/python3", packages=packages, torch_cuda=spec.torch_cuda)


def _binaries(spec: HostSpec) -> dict[str, BinaryFacts]:
    llama = (BinaryFacts("/usr/local/bin/llama-server", spec.llama_build) if spec.llama_build
             else BinaryFacts(Unknown("not on PATH"), Unknown("not on PATH")))
    smi = (BinaryFacts("/usr/bin/nvidia-smi", spec.driver[0]) if not spec.no_gpu_reason
           else BinaryFacts(Unknown("not on PATH"), Unknown("not on PATH")))
    return {"llama-server": llama, "nvidia-smi": smi}


def render(spec: HostSpec) -> str:
    return json.dumps(facts_to_json(build(spec)), indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 when a committed fixture differs from a fresh build")
    args = p.parse_args(argv)
    stale = []
    for spec in SPECS:
        path = HOSTS / f"{spec.name}.json"
        text = render(spec)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("stale spec fixtures: " + ", ".join(stale), file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
