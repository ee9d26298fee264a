"""llama.cpp plans: a GGUF quant split over the GPUs by layer, the experts that do not fit kept in RAM.

Uses `v4doctor.weights.offload.plan` (the same arithmetic as `v4doctor gguf`). Without a file to read,
the per-layer expert bytes are estimated: the quant's size x the base checkpoint's expert share, spread
evenly over the layers. The KV cache (f16, llama.cpp's default) and the compute buffer at the planned context are
taken off each GPU's room first.
"""

from __future__ import annotations

from typing import Any

from v4doctor.knowledge.kb import KnowledgeBase
from v4doctor.launch import fit_llamacpp
from v4doctor.launch.fit import kv_bytes_per_token, weight_split
from v4doctor.planner.goal import Goal
from v4doctor.planner.host import GIB, Host
from v4doctor.planner.search import LLAMACPP_CONTEXT, Candidate
from v4doctor.weights import offload


def size_gguf(c: Candidate, quant: dict[str, Any], host: Host, goal: Goal, kb: KnowledgeBase) -> Candidate:
    base = kb.find_model(c.model["base"]) if c.model.get("base") else c.model
    total, expert, _ = weight_split(base)
    layers = int(c.model.get("layers") or base.get("layers") or 43)
    size = int(quant["bytes"])
    per_layer = int(size * expert / total / layers)
    context = min(goal.context or LLAMACPP_CONTEXT, int(base.get("context", 1 << 20)))
    kv = kv_bytes_per_token(base, "f16", "f16", padded=False) * context * goal.concurrency
    # llama.cpp's compute buffer at this context (fit_llamacpp: the indexer's scores grow 64 KiB a token at -ub 512) and the
    # CUDA context, beyond the flat reserve the offload arithmetic already keeps per GPU
    compute = fit_llamacpp.compute_buffer_bytes(context) + fit_llamacpp.CONTEXT_GIB * GIB
    extra = max(compute - offload.GPU_RESERVE, 0)
    vram = [max(int(host.mem_gib * GIB - kv / max(host.count, 1) - extra), 0)] * host.count
    where = offload.plan({"total_bytes": size, "layer_expert_bytes": [per_layer] * layers, "block_count": layers}, vram, host.ram_bytes or 0)
    c.layout, c.tp, c.pp = "layers", 1, max(host.count, 1)
    c.max_model_len, c.max_num_seqs, c.concurrency = context, goal.concurrency, float(goal.concurrency)
    c.kv_tokens, c.longest = context * goal.concurrency, context
    c.weights_gib_per_gpu = where.get("gpu_bytes", 0) / max(host.count, 1) / GIB
    if where["where"] == "none":
        ram = "RAM not given" if host.ram_bytes is None else f"{host.ram_bytes / GIB:.0f} GiB RAM"
        c.why.append(f"{size / GIB:.1f} GiB GGUF + {kv / GIB:.1f} GiB KV > GPU room + RAM room ({ram}); short by {where['short_by'] / GIB:.1f} GiB")
        return c
    c.offload, c.quant_bytes, c.cpu_bytes = list(where["flags"]), size, int(where.get("cpu_bytes", 0))
    if where.get("cpu_bytes"):
        c.why.append(f"{where['cpu_bytes'] / GIB:.1f} GiB of experts in RAM (estimated evenly per layer): slower than all-GPU")
    c.meets = context >= goal.needed_context
    return c
