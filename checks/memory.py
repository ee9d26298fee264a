"""Checks: memory and disk — weights vs GPU memory, free disk, RAM for GGUF offload (V4D210–V4D219).

A first cut; the launch-plan work adds the full fit (layouts, KV cache, context). Thresholds are
v4doctor's policy and are stated in every message: vLLM uses 0.92 of GPU memory by default, and we
want the weights to take at most 80% of that, leaving the rest for KV cache, activations and graphs.
"""

from __future__ import annotations

import math

from v4doctor.judge.authoring import check, error, known, skipped, warning

from ._host import (GGUF_ENGINES, GIB, VLLM_DEFAULT_UTILIZATION, claim_sources, describe_gpus, gguf_for,
                    gguf_quants, gib, guide_claims, guide_text, kb_gpu_key, total_memory)

FIT_SHARE = 0.80  # weights may take this share of the usable GPU memory before we warn
OFFLOAD_HEADROOM = 1.10  # GGUF offload: RAM + VRAM >= file size x this (KV cache, compute buffers)
SUGGEST_GPUS = ("H100-80GB", "H200", "B200", "B300")


@check("V4D210", title="checkpoint weights fit the GPUs' memory", category="memory", troubleshooting="weights-do-not-fit",
       sources=["https://recipes.vllm.ai/deepseek-ai/DeepSeek-V4-Flash", "https://recipes.vllm.ai/deepseek-ai/DeepSeek-V4-Pro"],
       accepts_unknown=["system", "fit"])
def weights_fit(model, gpus, engine, system, kb, fit):
    """Weights vs the sum of GPU memory at vLLM's default 0.92 utilization; when nothing fits, name what would.
    The "tight" warning is a guess about the context; with a launch plan whose own fit holds its context, it stays silent."""
    if engine in GGUF_ENGINES or model.get("format") == "gguf":
        return None  # llama.cpp offloads to RAM: V4D212
    weights, total = model.get("disk_bytes"), total_memory(gpus)
    if not weights or total is None:
        return skipped("weights vs GPU memory", "the checkpoint's size is unknown" if not weights else "a GPU's memory was not read")
    usable = total * VLLM_DEFAULT_UTILIZATION
    if weights > usable:
        return _does_not_fit(kb, model, gpus, engine, system, weights, usable)
    if known(fit) and (fit.fits or fit.fits_low):
        return None  # the plan's asked context fits (V4D302 judges it)
    return _tight(model, gpus, weights, usable, total)


def _head(model, gpus, weights: int, usable: float) -> str:
    return (f"{model['name']} weights ({gib(weights)}) vs {describe_gpus(gpus)}: "
            f"{gib(usable)} usable of {gib(usable / VLLM_DEFAULT_UTILIZATION)}")


def _does_not_fit(kb, model, gpus, engine, system, weights: int, usable: float):
    claims = guide_claims(kb, "V4D210", model=model["key"], gpu=kb_gpu_key(kb, gpus), count=len(gpus))
    options = _alternatives(kb, model, gpus, engine, system, usable)
    return error(
        f"{_head(model, gpus, weights, usable)}: the weights do not fit",
        f"The weights alone exceed the GPU memory the engine can use (v4doctor assumes vLLM's default --gpu-memory-utilization 0.92), "
        f"so loading fails with CUDA out of memory. {guide_text(claims)}".strip(),
        fix="Options that work: " + "; ".join(options) + "." if options else "Use more or larger GPUs.",
        commands=[f"v4doctor run --model {m}" for m in _smaller(kb, model, usable)[:1]],
        fixers=["fix-pro-to-flash"] if _smaller(kb, model, usable)[:1] == ["flash"] else [],
        evidence=[f"model.disk_bytes = {weights}", f"sum(gpu.memory_total_bytes) = {int(usable / VLLM_DEFAULT_UTILIZATION)}"],
        sources=claim_sources(claims),
    )


def _tight(model, gpus, weights: int, usable: float, total: int):
    minimum = model.get("vram_minimum_gb")
    if weights > FIT_SHARE * usable:
        left = (usable - weights) / GIB
        return warning(f"{_head(model, gpus, weights, usable)}: fits, with only {left:.1f} GiB left for the KV cache",
                       "V4 replicates its KV cache on every tensor-parallel rank; with this little room the context length will be short.",
                       fix="Use DP+EP instead of TP, raise --gpu-memory-utilization, cap --max-model-len, or add GPUs.",
                       commands=["v4doctor fit"])
    if minimum and total < minimum * 1e9:
        return warning(f"{_head(model, gpus, weights, usable)}: below the vLLM recipe's {minimum} GB minimum",
                       "The recipe's minimum includes room for a useful KV cache.", fix="Add GPUs or expect a short context.")
    return None


def _alternatives(kb, model, gpus, engine, system, usable: float) -> list[str]:
    out = [f"the smaller checkpoint {kb.model(m)['name']} ({gib(kb.model(m)['disk_bytes'])}) fits this host" for m in _smaller(kb, model, usable)[:1]]
    out += [_hardware(kb, model)]
    gguf = _offload(kb, model, gpus, system)
    if gguf:
        out.append(gguf)
    return [o for o in out if o]


def _smaller(kb, model, usable: float) -> list[str]:
    """Official instruct checkpoints of the same family whose weights fit with room for the KV cache, smallest first."""
    fits = [m for m in kb.models if m.get("format") == "safetensors" and not m.get("third_party") and m.get("kind") == "instruct"
            and m.get("family") == model.get("family") and m.get("disk_bytes") and m["disk_bytes"] <= FIT_SHARE * usable
            and m["key"] != model["key"]]
    return [m["key"] for m in sorted(fits, key=lambda m: m["disk_bytes"])]


def _hardware(kb, model) -> str:
    """`4× H100 80GB, 2× H200, ...`: the fewest GPUs of each upstream-supported kind that hold the weights."""
    picks = []
    for key in SUGGEST_GPUS:
        g = next((r for r in kb.records("gpu") if r["key"] == key), None)
        if g is None:
            continue
        per_gpu = g.get("memory_bytes_nvml") or g["memory_gib"] * 1e9
        n = _gpu_count(model["disk_bytes"] / (per_gpu * VLLM_DEFAULT_UTILIZATION * FIT_SHARE))
        picks.append(f"{n}× {g['name']}" + (" (two nodes)" if n > 8 else ""))
    return f"hardware that holds it with room for the KV cache: {', '.join(picks)}" if picks else ""


def _gpu_count(ratio: float) -> int:
    """The power of two (1, 2, 4, 8, 16) at or above `ratio`: the sizes tensor/data parallelism use."""
    return 2 ** max(0, math.ceil(math.log2(max(ratio, 1))))


def _offload(kb, model, gpus, system) -> str:
    gguf = gguf_for(kb, model)
    if gguf is None or not known(system) or not known(system.ram_total_bytes):
        return ""
    room = system.ram_total_bytes + (total_memory(gpus) or 0)
    if room < gguf["disk_bytes"] * OFFLOAD_HEADROOM:
        return ""
    return f"llama.cpp with the GGUF {gguf['repo']} ({gib(gguf['disk_bytes'])}) fits RAM + GPU memory ({gib(room)}) with offload"


@check("V4D211", title="free disk for the download", category="disk", troubleshooting="disk-full",
       sources=["https://github.com/vllm-project/vllm/issues/41027", "https://recipes.vllm.ai/deepseek-ai/DeepSeek-V4-Pro"],
       accepts_unknown=["hub"])
def disk_for_download(system, model, engine, target, hub, kb):
    """Free disk at --path (or the HF cache) vs the download still to do, plus headroom for temporary files."""
    if known(target.local_path):
        return None  # the weights are already on disk
    if not system.disks:
        return skipped("free disk", "no weights path or Hugging Face cache was checked (pass --path DIR)")
    disk = system.disks[0]
    weights = (gguf_for(kb, model) or {}) if engine in GGUF_ENGINES else model
    size = weights.get("disk_bytes")
    if not size or not known(disk.free_bytes):
        return skipped("free disk", "the checkpoint's size is unknown" if not size else f"free space unknown, because {disk.free_bytes.reason}")
    cached = _cached(hub, disk.path)
    need = max(size - cached, 0)
    headroom = max(10 * GIB, 0.05 * size)
    if disk.free_bytes >= need + headroom:
        return None
    return _disk_finding(kb, weights, disk, size, cached, need, headroom)


def _cached(hub, path: str) -> int:
    """Bytes of this model already in the HF cache, when the checked disk is that cache."""
    if known(hub) and known(hub.cache_dir) and hub.cache_dir == path and known(hub.cached_bytes):
        return hub.cached_bytes
    return 0


def _where(disk) -> str:
    """`/data/models`, or `/data (where /data/models will be created)` when the path does not exist yet."""
    at = getattr(disk, "measured_at", None)
    return f"{at} (where {disk.path}, which does not exist yet, will be created)" if at else disk.path


def _disk_finding(kb, weights, disk, size: int, cached: int, need: int, headroom: float):
    claims = guide_claims(kb, "V4D211", model=weights.get("key"))
    approx = " (approximate)" if weights.get("disk_approx") else ""
    make = error if disk.free_bytes < need else warning
    return make(
        f"{gib(disk.free_bytes)} free at {_where(disk)}; {weights['name']} needs {gib(need)} more{approx}",
        f"The download is {gib(size)}{approx}{f', {gib(cached)} already cached' if cached else ''}; v4doctor asks for {gib(headroom)} of headroom for "
        f"temporary files. {guide_text(claims)}".strip(),
        fix="Free space, or download to a disk with room (set HF_HOME, or pass --local-dir and `v4doctor run --path DIR`).",
        commands=[f"df -h {getattr(disk, 'measured_at', None) or disk.path}", _download_cmd(weights)],
        evidence=[f"system.disks[0].free_bytes = {disk.free_bytes}", f"model.disk_bytes = {size}"],
        sources=weights["sources"] + claim_sources(claims),
    )


def _download_cmd(weights) -> str:
    """`hf download REPO --local-dir DIR`; for a GGUF repo only the quant v4doctor sized (`--include '*UD-Q4_K_XL*'`)."""
    quant = next((q["name"] for q in weights.get("quants", []) if q.get("bytes") == weights.get("disk_bytes")), None)
    include = f" --include '*{quant}*'" if weights.get("format") == "gguf" and quant else ""
    return f"hf download {weights['repo']}{include} --local-dir /path/with/space"


@check("V4D212", title="RAM + GPU memory for GGUF offload", category="memory", troubleshooting="ram-too-small-for-offload",
       sources=["https://unsloth.ai/docs/jp/moderu/deepseek-v4", "https://hugingapi.com/antirez/deepseek-v4-gguf/blob/main/README.md"],
       accepts_unknown=["gpus"])
def ram_for_offload(engine, model, system, gpus, kb):
    """llama.cpp/Ollama keep what does not fit the GPUs in RAM: RAM + VRAM must hold the GGUF plus ~10%."""
    if engine not in GGUF_ENGINES:
        return None
    gguf = gguf_for(kb, model)
    if gguf is None or not gguf.get("disk_bytes") or not known(system.ram_total_bytes):
        return skipped("RAM for offload", "no GGUF of known size for this checkpoint" if gguf is None or not gguf.get("disk_bytes") else system.ram_total_bytes.reason)
    vram = (total_memory(gpus) or 0) if known(gpus) else 0
    room, size = system.ram_total_bytes + vram, gguf["disk_bytes"]
    if room >= size * OFFLOAD_HEADROOM:
        return None
    return _offload_finding(kb, gguf, gpus, room, size, vram)


def _offload_finding(kb, gguf, gpus, room: int, size: int, vram: int):
    count = len(gpus) if known(gpus) else 0
    claims = guide_claims(kb, "V4D212", model=gguf.get("base"), gpu=kb_gpu_key(kb, gpus) if count else None, count=count)
    smaller = _smaller_ggufs(kb, gguf, room)
    make = error if room < size else warning
    first = [f"hf download {smaller[0][0]} --include '*{smaller[0][1]}*' --local-dir /path/with/space"] if smaller else []
    return make(
        f"RAM + GPU memory ({gib(room)}; {gib(vram)} on GPUs) is {'smaller than' if room < size else 'barely above'} the GGUF {gguf['repo']} ({gib(size)})",
        f"llama.cpp needs the whole file in RAM + VRAM plus KV cache and compute buffers (v4doctor asks for 10% more). {guide_text(claims)}".strip(),
        fix=("A smaller quant fits: " + ", ".join(f"{r} {q} ({gib(b)})" for r, q, b in smaller) + ".") if smaller else "Add RAM or GPUs.",
        commands=first,
        evidence=[f"system.ram_total_bytes + GPU memory = {room}", f"gguf bytes = {size}"],
        sources=gguf["sources"] + claim_sources(claims),
    )


def _smaller_ggufs(kb, gguf, room: int) -> list[tuple[str, str, int]]:
    """(repo, quant, bytes) of the same base's GGUFs that fit `room` with headroom, largest first."""
    repos = [m for m in kb.models if m.get("format") == "gguf" and m.get("base") == gguf.get("base")
             and not m.get("provenance_problem") and "ds4" not in m.get("note", "")]  # ds4-only files may not load in llama.cpp
    quants = [(m["repo"], q["name"], q["bytes"]) for m in repos for q in gguf_quants(m)]
    return sorted((q for q in quants if q[2] * OFFLOAD_HEADROOM <= room), key=lambda q: -q[2])
