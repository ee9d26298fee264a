"""Small pure helpers the host checks share: versions, sizes, GPU groups, guide claims.

Not a check module (no `@check` here); the driver, gpu, engine, memory and system checks import it.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable

from v4doctor.judge.authoring import known

GIB = 2**30
GPU_ENGINES = ("vllm", "sglang", "trtllm")  # need CUDA GPUs for V4
GGUF_ENGINES = ("llamacpp", "ollama")
ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "llamacpp": "llama.cpp", "ollama": "Ollama", "trtllm": "TensorRT-LLM"}
VLLM_DEFAULT_UTILIZATION = 0.92  # vLLM --gpu-memory-utilization default (0.33 `serve --help=all`)


def gib(n: float) -> str:
    """`159617149040` -> "148.66 GiB"."""
    return f"{n / GIB:.2f} GiB"


def engine_name(engine: str) -> str:
    return ENGINE_NAMES.get(engine, engine)


# --------------------------------------------------------------------------- versions
def split_cuda_tag(version: str) -> tuple[str, str | None]:
    """`0.20.0+cu129` or `v0.26.0-cu129` -> ("0.20.0", "12.9"); `0.33.0` -> ("0.33.0", None)."""
    m = re.fullmatch(r"v?(.+?)(?:[+-]cu(\d+)(\d))?", version.strip())
    if not m:
        return version, None
    cuda = f"{m.group(2)}.{m.group(3)}" if m.group(2) else None
    return m.group(1), cuda


def parse_version(version: str):
    """A comparable version: packaging's Version, or an int for llama.cpp builds (`b9840`)."""
    v = version.strip()
    build = re.fullmatch(r"b(\d+)", v)
    if build:
        return int(build.group(1))
    from packaging.version import InvalidVersion, Version

    try:
        return Version(split_cuda_tag(v)[0])
    except InvalidVersion:
        return None


def version_lt(a: str, b: str) -> bool | None:
    """a < b, or None when either cannot be compared (different schemes, garbage)."""
    va, vb = parse_version(a), parse_version(b)
    if va is None or vb is None or type(va) is not type(vb):
        return None
    return va < vb


def driver_tuple(version: str) -> tuple[int, ...]:
    """`580.65.06` -> (580, 65, 6); NVIDIA driver versions compare numerically per part."""
    return tuple(int(p) for p in re.findall(r"\d+", version))


def engine_floors(kb: Any, engine: str, model: dict[str, Any], gpu_family_key: str | None = None) -> list[dict[str, Any]]:
    """The `engine_floor` rules of `engine` whose `when_*` conditions hold for this model and GPU family
    (a rule naming a GPU family holds only on that family, so never when no family is given); a rule whose
    `status` is "unverified" (no source pins its version) is never used to judge."""
    return [r for r in kb.records("engine_floor") if r["engine"] == engine and r.get("status") != "unverified"
            and _floor_holds(r, model, gpu_family_key)]


def _floor_holds(rule: dict[str, Any], model: dict[str, Any], gpu_family_key: str | None) -> bool:
    if rule.get("when_family") not in (None, model.get("family")):
        return False
    if "when_dspark" in rule and bool(model.get("dspark")) != rule["when_dspark"]:
        return False
    return rule.get("when_gpu_family") in (None, gpu_family_key)


# --------------------------------------------------------------------------- GPUs
def gpu_groups(gpus: list[Any]) -> list[tuple[str, int]]:
    """[("NVIDIA H200", 4)] in first-seen order: what the host has, for messages."""
    names = Counter(g.name if known(g.name) else "unknown GPU" for g in gpus)
    return list(names.items())


def describe_gpus(gpus: list[Any]) -> str:
    return " + ".join(f"{n}× {name}" for name, n in gpu_groups(gpus)) or "no GPU"


def total_memory(gpus: list[Any]) -> int | None:
    values = [g.memory_total_bytes for g in gpus]
    return sum(values) if values and all(known(v) for v in values) else None


def family_for_cc(kb: Any, cc: str) -> dict[str, Any] | None:
    return next((f for f in kb.records("gpu_family") if cc in f.get("compute_capabilities", [])), None)


def kb_gpu_key(kb: Any, gpus: list[Any]) -> str | None:
    """The knowledge-base key of the host's GPU when all GPUs are one model, else None."""
    groups = gpu_groups(gpus)
    if len(groups) != 1:
        return None
    record = kb.gpu(groups[0][0])
    return record["key"] if record else None


# --------------------------------------------------------------------------- models
def gguf_for(kb: Any, model: dict[str, Any]) -> dict[str, Any] | None:
    """The GGUF llama.cpp/Ollama would load for `model`: itself, or a GGUF repo of it with a known size."""
    if model.get("format") == "gguf":
        return model
    candidates = [m for m in kb.models if m.get("format") == "gguf" and m.get("base") == model["key"] and m.get("disk_bytes") and not m.get("provenance_problem")]
    mainline = [m for m in candidates if "ds4" not in m.get("note", "")]
    pool = mainline or candidates
    return max(pool, key=lambda m: m["disk_bytes"]) if pool else None


def gguf_quants(gguf: dict[str, Any]) -> list[dict[str, Any]]:
    """The GGUF's quants that have a size, smallest first."""
    return sorted((q for q in gguf.get("quants", []) if q.get("bytes")), key=lambda q: q["bytes"])


# --------------------------------------------------------------------------- the guide
def guide_claims(kb: Any, check_id: str, *, model: str | None = None, engine: str | None = None,
                 gpu: str | None = None, count: int | None = None) -> list[dict[str, Any]]:
    """The guide claims a check quotes for this plan (every `when_*` field must match)."""
    plan = {"when_model": model, "when_engine": engine, "when_gpu": gpu, "when_count": count}
    return [c for c in kb.records("guide_claim") if check_id in c.get("checks", [])
            and all(c.get(k) is None or c.get(k) == v for k, v in plan.items())]


def guide_text(claims: Iterable[dict[str, Any]]) -> str:
    """ "The guide says X; upstream says Y." for each claim, joined."""
    return " ".join(f"The guide says {c['guide_says']}; upstream: {c['truth']}." for c in claims)


def claim_sources(claims: Iterable[dict[str, Any]]) -> list[str]:
    return [s for c in claims for s in c.get("sources", [])]
