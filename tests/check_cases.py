"""Hit and no-hit cases for every registered check: check id -> [Case(facts builder, severity, reason)].

tests/test_conformance.py runs them all and fails when a registered check has no hit row
(severity error/warning/info) or no no-hit row (severity "ok": the check ran and found nothing).
To add cases for your checks, either append `add("V4D3xx", ...)` lines at the end of this file,
or create `tests/check_cases_<area>.py` that defines `CASES = [("V4D3xx", builder, "ok", "why"), ...]`;
both are collected. A builder is a zero-argument function returning `Facts`.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from v4doctor.facts import Facts, GpuLink, GpuProcess, RemappedRows, Unknown

HOST_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "hosts"
GIB = 2**30


@dataclass(frozen=True)
class Case:
    facts: Callable[[], Facts]
    severity: str  # error | warning | info (hits), ok (no-hit), skipped
    reason: str


CASES: dict[str, list[Case]] = {}


def add(check_id: str, facts: Callable[[], Facts], severity: str, reason: str) -> None:
    CASES.setdefault(check_id, []).append(Case(facts, severity, reason))


# --------------------------------------------------------------------------- facts builders
_CACHE: dict[str, Facts] = {}


def host(name: str, *, model: str = "flash", engine: str = "vllm", engine_version: str | None = None) -> Facts:
    """A fresh copy of fixtures/hosts/<name>.json with the target set."""
    if name not in _CACHE:
        from conftest import load_host

        _CACHE[name] = load_host(f"{name}.json")
    facts = copy.deepcopy(_CACHE[name])
    facts.target = dataclasses.replace(facts.target, model=model, engine=engine,
                                       engine_version=engine_version if engine_version else Unknown("not given"))
    return facts


def devices(facts: Facts, **changes) -> Facts:
    """Set fields on every GPU device."""
    facts.gpu.devices = [dataclasses.replace(d, **changes) for d in facts.gpu.devices]
    return facts


def system(facts: Facts, **changes) -> Facts:
    facts.system = dataclasses.replace(facts.system, **changes)
    return facts


def packages(facts: Facts, **versions) -> Facts:
    facts.python.packages.update({k: v if v is not None else Unknown("not installed") for k, v in versions.items()})
    return facts


def links(facts: Facts, link, p2p) -> Facts:
    """Every GPU pair linked by `link` (an nvidia-smi topo word) with P2P read as `p2p`."""
    n = len(facts.gpu.devices)
    facts.gpu.topology = [GpuLink(a, b, link, p2p) for a in range(n) for b in range(a + 1, n)]
    return facts


def _gpu_not_read(facts: Facts) -> Facts:
    facts.gpu = Unknown("not in the posted snapshot")
    return facts


def driver(facts: Facts, version: str, cuda: str) -> Facts:
    facts.gpu = dataclasses.replace(facts.gpu, driver_version=version, cuda_driver_version=cuda)
    return facts


# --------------------------------------------------------------------------- judging (the message tests' helpers)
def findings_of(facts: Facts, check_id: str) -> list:
    """What one check says about `facts`, through the real `judge`."""
    from v4doctor.judge.doctor import judge

    return [f for f in judge(facts, select=[check_id]).findings if f.id == check_id]


def one_finding(facts: Facts, check_id: str):
    """The single finding one check gives (fails when it gives none or several)."""
    (f,) = findings_of(facts, check_id)
    return f


# --------------------------------------------------------------------------- V4D101 driver/GPUs present
add("V4D101", lambda: host("laptop-nogpu"), "error", "no NVML library: vLLM cannot serve V4")
add("V4D101", lambda: host("laptop-nogpu", engine="llamacpp"), "info", "no GPU, but llama.cpp runs on the CPU")
add("V4D101", lambda: host("8xh100-80g"), "ok", "eight GPUs listed by NVML")
add("V4D101", lambda: _gpu_not_read(host("8xh100-80g")), "skipped", "a snapshot (e.g. a plan posted to /v1/check) without GPU facts is not 'no GPU'")

# --------------------------------------------------------------------------- V4D102 driver vs CUDA build
add("V4D102", lambda: host("driver570-vllm020-cu130"), "error", "R570 driver (CUDA 12.8) with vLLM 0.20.0 / torch cu130")
add("V4D102", lambda: host("driver570-vllm020-cu130", engine_version="0.20.0+cu129"), "ok",
    "a cu129 build runs on R570 through minor-version compatibility")
add("V4D102", lambda: host("8xh100-80g"), "ok", "R580 driver runs the CUDA 13.0 build")
add("V4D102", lambda: host("driver570-vllm020-cu130", engine="llamacpp"), "ok", "llama.cpp's build is not torch's; no CUDA 13 requirement")

# --------------------------------------------------------------------------- V4D111 GPU architecture
add("V4D111", lambda: host("1xa100-80g"), "error", "A100 (SM80) is not upstream for vLLM V4")
add("V4D111", lambda: host("8xv100", engine="sglang"), "error", "V100 (SM70) can never run the FP4 experts")
add("V4D111", lambda: host("2xrtxpro6000", engine="sglang"), "warning", "SGLang on SM120 needs the :dev image")
add("V4D111", lambda: host("4xh200"), "ok", "Hopper is the upstream target")
add("V4D111", lambda: host("2xrtxpro6000"), "ok", "vLLM runs V4 on SM120 (floor is V4D201's job)")
add("V4D111", lambda: host("1xa100-80g", engine="llamacpp"), "ok", "llama.cpp runs on Ampere")
add("V4D111", lambda: devices(host("4xh200"), compute_capability=Unknown("NVML NotSupported")), "skipped", "no compute capability read")

# --------------------------------------------------------------------------- V4D112 busy GPUs
add("V4D112", lambda: devices(host("4xh200"), processes=[GpuProcess(4242, 40 * GIB, "python")]), "warning",
    "another process holds 40 GiB on every GPU")
add("V4D112", lambda: devices(host("4xh200"), processes=Unknown("NVML NotSupported"), memory_used_bytes=30 * GIB), "warning",
    "no process list, but 30 GiB used")
add("V4D112", lambda: devices(host("4xh200"), processes=[GpuProcess(1, 500 * 2**20)]), "ok", "500 MiB is under the 2 GiB threshold")
add("V4D112", lambda: host("8xb200"), "ok", "no processes")

# --------------------------------------------------------------------------- V4D113 MIG
add("V4D113", lambda: devices(host("4xh200"), mig_enabled=True), "error", "MIG on")
add("V4D113", lambda: devices(host("4xh200"), mig_enabled=Unknown("NVML NotSupported")), "ok", "MIG state unreadable is not MIG on")
add("V4D113", lambda: host("4xh200"), "ok", "MIG off")

# --------------------------------------------------------------------------- V4D114 row remaps
add("V4D114", lambda: devices(host("8xb200"), remapped_rows=RemappedRows(0, 1, True, False)), "warning", "a remap is pending")
add("V4D114", lambda: devices(host("8xb200"), remapped_rows=RemappedRows(0, 9, False, True)), "error", "a remap failed")
add("V4D114", lambda: devices(host("8xb200"), remapped_rows=RemappedRows(3, 0, False, False)), "ok",
    "correctable remaps that already took effect are healthy")

# --------------------------------------------------------------------------- V4D115 NVLink / P2P
add("V4D115", lambda: host("2xrtx4090", engine="sglang"), "warning", "two 4090s: no NVLink, no P2P")
add("V4D115", lambda: links(host("2xrtxpro6000"), "PHB", Unknown("not read")), "info", "no NVLink and P2P not read")
add("V4D115", lambda: host("2xrtxpro6000"), "skipped", "the fixture documents no interconnect")
add("V4D115", lambda: host("8xh100-80g"), "ok", "NV18 between every pair")
add("V4D115", lambda: host("2xrtx4090", engine="llamacpp"), "ok", "llama.cpp splits layers; no TP all-reduce")
add("V4D115", lambda: host("1xa100-80g"), "ok", "one GPU: nothing to link")

# --------------------------------------------------------------------------- V4D120 /dev/shm
add("V4D120", lambda: system(host("8xh100-80g"), shm_bytes=64 * 2**20, in_container=True), "error", "Docker's 64 MiB default with 8 GPUs")
add("V4D120", lambda: system(host("1xa100-80g"), shm_bytes=64 * 2**20), "ok", "one GPU does not need NCCL shared memory")
add("V4D120", lambda: host("8xh100-80g"), "ok", "1 TB of /dev/shm on bare metal")

# --------------------------------------------------------------------------- V4D201 engine floors
add("V4D201", lambda: host("8xh100-80g", engine_version="0.19.1"), "error", "vLLM 0.19.1 predates V4 (0.20.0)")
add("V4D201", lambda: host("8xh100-80g", model="pro-0813", engine_version="0.24.0"), "error", "DSpark checkpoint needs 0.25.0")
add("V4D201", lambda: host("2xrtxpro6000", engine_version="0.23.0"), "error", "SM120 needs vLLM 0.24.0")
add("V4D201", lambda: host("8xb200", model="v4.1-flash", engine="sglang"), "error", "no SGLang release serves V4.1")
add("V4D201", lambda: host("8xh100-80g", engine="sglang", engine_version="0.5.11"), "error", "SGLang 0.5.11 predates V4 in mainline")
add("V4D201", lambda: host("laptop-nogpu", engine="llamacpp", engine_version="b9000"), "error", "llama.cpp b9000 has no deepseek4")
add("V4D201", lambda: host("8xh100-80g", engine_version="0.20.0"), "ok", "0.20.0 is the V4 floor, on Hopper")
add("V4D201", lambda: host("2xrtxpro6000", engine_version="0.24.0"), "ok", "0.24.0 is the SM120 floor")
add("V4D201", lambda: host("laptop-nogpu", engine="llamacpp"), "ok", "b9840 is the llama.cpp floor")
add("V4D201", lambda: host("laptop-nogpu", engine="ollama", engine_version="0.31.1"), "skipped", "no verified Ollama floor for deepseek4")

# --------------------------------------------------------------------------- V4D202 transformers
add("V4D202", lambda: packages(host("8xh100-80g", engine="sglang"), transformers="5.3.0"), "error",
    "sglang with transformers 5.3.0 does not know deepseek_v4")
add("V4D202", lambda: packages(host("8xh100-80g"), transformers="5.21.0"), "error", "vLLM 0.33 requires transformers < 5.21.0")
add("V4D202", lambda: host("8xh100-80g", engine="sglang"), "ok", "transformers 5.20.2 >= 5.8.1")
add("V4D202", lambda: packages(host("driver570-vllm020-cu130"), transformers="4.57.1"), "ok",
    "vLLM 0.20 ships its own DeepseekV4Config; transformers does not matter")

# --------------------------------------------------------------------------- V4D203 known regressions
add("V4D203", lambda: host("8xh100-80g", engine_version="0.27.1"), "warning", "0.27.x symmetric-memory regression")
add("V4D203", lambda: host("2xrtxpro6000", engine_version="0.24.0"), "error",
    "0.24.0 DeepGEMM regression on exactly this setup (SM12x): an error with its fix, so the run is not 'Ready' (issue #13)")
add("V4D203", lambda: host("8xh100-80g", engine_version="0.24.0"), "ok", "the 0.24.0 regression is SM12x-only")
add("V4D203", lambda: host("8xh100-80g", engine_version="0.270.0"), "ok", "0.270.0 is not a 0.27 release")

# --------------------------------------------------------------------------- V4D204 GGUF vs safetensors
add("V4D204", lambda: host("8xh100-80g", model="unsloth/DeepSeek-V4-Flash-GGUF"), "error", "vLLM cannot serve V4 GGUFs")
add("V4D204", lambda: host("8xh100-80g", engine="ollama"), "error", "Ollama cannot import V4 safetensors")
add("V4D204", lambda: host("8xh100-80g", engine="llamacpp"), "info", "llama.cpp will need a GGUF of Flash")
add("V4D204", lambda: host("8xh100-80g"), "ok", "safetensors on vLLM")
add("V4D204", lambda: host("8xh100-80g", model="unsloth/DeepSeek-V4-Flash-GGUF", engine="llamacpp"), "ok", "a GGUF on llama.cpp")

# --------------------------------------------------------------------------- V4D210 weights fit
add("V4D210", lambda: host("8xh100-80g", model="pro"), "error", "805 GiB of Pro > 8×H100")
add("V4D210", lambda: host("1xa100-80g"), "error", "149 GiB of Flash > one A100")
add("V4D210", lambda: host("2xrtxpro6000"), "warning", "Flash fits 2×96 GB with little KV room")
add("V4D210", lambda: host("8xh100-80g"), "ok", "Flash on 8×H100")
add("V4D210", lambda: host("8xb200", model="pro"), "ok", "Pro on 8×B200")
add("V4D210", lambda: host("1xa100-80g", engine="llamacpp"), "ok", "llama.cpp offloads to RAM (V4D212's job)")

# --------------------------------------------------------------------------- V4D211 disk
add("V4D211", lambda: host("1xa100-80g", model="pro"), "error", "600 GB free < 805 GiB of Pro")
add("V4D211", lambda: system(host("8xb200"), disks=[dataclasses.replace(host("8xb200").system.disks[0], free_bytes=150 * GIB)]),
    "warning", "150 GiB free: the download fits, the headroom does not")
add("V4D211", lambda: host("1xa100-80g"), "ok", "600 GB free for 149 GiB of Flash")
add("V4D211", lambda: host("8xv100"), "skipped", "no disk path was checked")

# --------------------------------------------------------------------------- V4D212 RAM for GGUF offload
add("V4D212", lambda: host("2xrtx4090", engine="llamacpp"), "error", "48 GB VRAM + 64 GB RAM < 155 GB GGUF")
add("V4D212", lambda: host("laptop-nogpu", engine="llamacpp"), "error", "32 GiB RAM, no GPU")
add("V4D212", lambda: system(host("2xrtx4090", engine="llamacpp"), ram_total_bytes=110 * GIB), "warning",
    "RAM + VRAM above the file, under the 10% headroom")
add("V4D212", lambda: host("1xa100-80g", engine="llamacpp"), "ok", "80 GB VRAM + 128 GB RAM hold the Q4 GGUF")
add("V4D212", lambda: host("2xrtx4090"), "ok", "vLLM does not offload to RAM")


# --------------------------------------------------------------------------- other engineers' tables
def _collect_extra() -> None:
    """Fold in tests/check_cases_<area>.py tables (`CASES = [(id, builder, severity, reason), ...]`)."""
    for path in sorted(Path(__file__).parent.glob("check_cases_*.py")):
        module = importlib.import_module(path.stem)
        for check_id, builder, severity, reason in getattr(module, "CASES", []):
            add(check_id, builder, severity, reason)


_collect_extra()

# TensorRT-LLM on Hopper (NVIDIA/TensorRT-LLM#16940): V4-Flash runs there, V4-Pro does not
add("V4D111", lambda: host("4xh200", model="pro", engine="trtllm"), "error", "TensorRT-LLM serves V4-Pro on Blackwell only")
add("V4D111", lambda: host("4xh200", model="flash", engine="trtllm"), "ok", "TensorRT-LLM serves V4-Flash on Hopper since #16940")
