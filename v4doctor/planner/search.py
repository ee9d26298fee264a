"""The search: checkpoint x engine x layout x speculative decoding, each sized with the fit model.

Every candidate is sized with `v4doctor.launch.fit.fit` exactly as `run` sizes the rendered command
(the same layout, KV format, memory fraction and sequence count), so the numbers a plan prints are
the numbers `run` judges. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from v4doctor.knowledge.kb import KnowledgeBase
from v4doctor.launch import flags as flag_tables
from v4doctor.launch.fit import fit
from v4doctor.planner.goal import Goal
from v4doctor.planner.host import Host

ENGINE_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "llamacpp": "llama.cpp"}
LLAMACPP_BUILD = "b9840"  # the knowledge base's llama.cpp floor for `deepseek4` (engines.toml llamacpp-v4)
MAX_SEQS = 256
BATCHED_TOKENS = 8192  # the fit's overhead assumption is calibrated at 8192 batched tokens (launch/fit.py)
LLAMACPP_CONTEXT = 131_072  # llama.cpp default per slot when no --context is asked


@dataclass
class Candidate:
    """One plan: what to run, how it is laid out, and what the fit model predicts for it."""

    model: dict[str, Any]
    engine: str
    version: str
    layout: str  # tp | tep | dep | dpa (SGLang DP attention) | offload; over nodes: mtep | mpp | mtp | mdpa (multinode.py)
    tp: int = 1
    dp: int = 1
    pp: int = 1
    ep: bool = False
    gpus: int = 1
    nodes: int = 1  # nodes the plan spans (gpus counts them all)
    node_rank: int = 0  # which node's command render.command() writes
    kv_format: str = "fp8"
    indexer: str = "fp8"
    fraction: float | None = None
    spec: str | None = None  # mtp | dspark | eagle
    quant: str | None = None  # GGUF quant
    quant_bytes: int = 0
    cpu_bytes: int = 0  # llama.cpp: expert bytes kept in RAM
    offload: list[str] = field(default_factory=list)  # llama.cpp --n-gpu-layers / --n-cpu-moe
    max_model_len: int = 0
    max_num_seqs: int = 1
    concurrency: float = 0.0
    kv_tokens: int = 0
    longest: int = 0  # the largest context one request can have
    weights_gib_per_gpu: float = 0.0
    meets: bool = False
    why: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model['name']}{f' {self.quant}' if self.quant else ''} on {ENGINE_NAMES[self.engine]}"


def newest(engine: str) -> str:
    """The newest engine version v4doctor has a real flag set for (vLLM 0.33.0, SGLang 0.5.23)."""
    if engine == "llamacpp":
        return LLAMACPP_BUILD
    return flag_tables.tables(engine)[-1].version


# --------------------------------------------------------------------------- checkpoints
def checkpoints(goal: Goal, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """The records the goal names: `flash`/`pro` bring their re-quants and GGUFs; `any` both lines; a repo id itself."""
    ref = goal.model.strip().lower()
    lines = ("flash", "pro") if ref == "any" else (ref,) if ref in ("flash", "pro") else None
    if lines is None:
        return [kb.model(goal.model)]
    out = [m for m in kb.models if m["key"] in lines or m.get("base") in lines]
    return [m for m in out if usable_checkpoint(m)]


def usable_checkpoint(m: dict[str, Any]) -> bool:
    """Instruct checkpoints with a size v4doctor can fit; not base models, not fork-only or ds4-only GGUFs."""
    if m.get("kind") == "base" or m.get("provenance_problem") or "ds4" in m.get("note", ""):
        return False
    return bool(m.get("disk_bytes") or m.get("base")) and (m.get("format") != "gguf" or bool(gguf_quants(m)))


def gguf_quants(m: dict[str, Any]) -> list[dict[str, Any]]:
    """Quants of known size, 3 bits or more (`run` warns below 3 bits, V4D408: answers degrade)."""
    from v4doctor.weights.describe import quant_bits

    return [q for q in m.get("quants", []) if q.get("bytes") and (quant_bits(q["name"]) or 0) >= 3]


def tier(c: Candidate, goal: Goal) -> tuple:
    """Which checkpoint serves the goal best: Pro over Flash, the named repo over its re-quants, GPU engines over GGUF offload."""
    m = c.model
    named = m["key"] == goal.model.strip().lower() or (goal.model.strip().lower() == "any" and m["key"] in ("flash", "pro"))
    line = 1 if "pro" in (m["key"], m.get("base")) else 0
    gguf = (not c.cpu_bytes, c.quant_bytes) if c.engine == "llamacpp" else ()  # all on the GPUs first, then the biggest quant
    return (c.engine != "llamacpp", line, named, not m.get("third_party", False), *gguf)


# --------------------------------------------------------------------------- layouts
def layouts(engine: str, count: int, host: Host, model: dict[str, Any]) -> list[dict[str, Any]]:
    """TP over every GPU, TP+EP (the vLLM recipe default), DP+EP; SGLang TP and TP with DP attention."""
    n = 1 << (count.bit_length() - 1) if count else 0
    if n == 0:
        return []
    if engine == "vllm":
        out = [dict(layout="tep", tp=n, ep=True), dict(layout="tp", tp=n), dict(layout="dep", dp=n, ep=True)]
        return out if n > 1 else [dict(layout="tp", tp=1)]
    out = [dict(layout="tp", tp=n)]
    fam = (host.family or {}).get("key")
    if n > 1 and (fam == "blackwell-dc" or model.get("expert_dtype") == "fp8"):  # DeepEP: FP4 experts only on SM100
        out.append(dict(layout="dpa", tp=n, dp=n))
    return out


def fraction_for(engine: str, host: Host) -> float | None:
    """vLLM's default 0.92 (SGLang: leave its own), lowered below what other processes leave free."""
    base = 0.92 if engine == "vllm" else None
    if host.free_fraction is not None and host.free_fraction < 0.94:
        return math.floor((host.free_fraction - 0.02) * 100) / 100
    return base


def spec_for(engine: str, model: dict[str, Any], host: Host, goal: Goal) -> str | None:
    """Speculative decoding only when latency is preferred: DSpark where the checkpoint carries it, else MTP, never MTP
    (nor SGLang's EAGLE, which drafts with the same MTP layer) for a checkpoint whose record says `mtp = false`."""
    if goal.prefer != "latency" or engine == "llamacpp":
        return None
    if model.get("dspark") and engine != "sglang":
        return "dspark"
    if model.get("mtp") is False:
        return None
    return "eagle" if engine == "sglang" else "mtp"


# --------------------------------------------------------------------------- sizing
def size(c: Candidate, host: Host, goal: Goal, kb: KnowledgeBase) -> Candidate:
    """Fill the fit numbers: the longest context at the asked concurrency, the concurrency at the asked context."""
    base = kb.find_model(c.model["base"]) if c.model.get("base") else None
    kw = dict(gpus=c.gpus, gpu_mem_gib=host.mem_gib, engine=c.engine, tp=c.tp, dp=c.dp, pp=c.pp, ep=c.ep,
              kv_format=c.kv_format, indexer=c.indexer, fraction=c.fraction, base=base, mtp=c.spec is not None, spec_method=c.spec,
              engine_version=c.version, gpu_name=host.gpu_name or "", dp_attention=c.layout in ("dpa", "mdpa"))
    seqs = max(goal.concurrency, 1)
    longest = fit(c.model, max_model_len=None, max_num_seqs=1, **kw)
    at_goal = fit(c.model, max_model_len=None, max_num_seqs=seqs, **kw)
    c.weights_gib_per_gpu = longest.weights_gib_per_gpu
    c.longest = longest.max_model_len_fits if longest.weights_fit else 0
    length = goal.context or at_goal.max_model_len_fits
    if not longest.weights_fit:
        c.why.append(f"{longest.weights_gib_total:.1f} GiB of weights: {longest.weights_gib_per_gpu:.1f} GiB per GPU + {longest.overhead_gib_per_gpu:.0f} GiB overhead "
                     f"> {longest.usable_gib_per_gpu:.1f} GiB usable")
        return c
    c.max_model_len = max(length, 0)
    final = fit(c.model, max_model_len=c.max_model_len or 1, max_num_seqs=1, **kw)
    c.concurrency, c.kv_tokens = final.concurrency_at_max_len, final.kv_tokens
    c.meets = at_goal.max_model_len_fits >= goal.needed_context and c.max_model_len >= goal.needed_context
    c.max_num_seqs = max(goal.concurrency, min(int(c.concurrency), MAX_SEQS)) if c.meets else goal.concurrency
    if c.engine == "sglang" and c.meets:  # `run` reads --max-running-requests as the sequences that must fit, per DP rank
        c.max_num_seqs = max(goal.concurrency, min(c.dp * int(c.concurrency / c.dp), MAX_SEQS))
    return c


def vllm_indexer(version: str, host: Host) -> str:
    """mxfp4 indexer cache on Blackwell data-center GPUs where the version spells it (0.33: indexer_kv_dtype)."""
    return "mxfp4" if (host.family or {}).get("key") == "blackwell-dc" and _at_least(version, "0.33.0") else "fp8"


def _at_least(version: str, floor: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version.split("+")[0]) >= Version(floor)
    except InvalidVersion:
        return False


def with_layout(c: Candidate, lay: dict[str, Any]) -> Candidate:
    return replace(c, why=list(c.why), offload=list(c.offload), **lay)
