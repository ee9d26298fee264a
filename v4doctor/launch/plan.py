"""From a LaunchSpec to the numbers the memory fit needs (layout, KV format, fraction, lengths).

    vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 2 --max-model-len 131072 --gpu-memory-utilization 0.92
    -> tp=2, dp=1, pp=1, ep=False, kv_format=fp8, fraction=0.92, max_model_len=131072
"""

from __future__ import annotations

import json
import re
from typing import Any

from v4doctor.launch import speculative
from v4doctor.launch.spec import LaunchSpec

_PARALLEL = {
    "vllm": {"tp": "tensor-parallel-size", "dp": "data-parallel-size", "pp": "pipeline-parallel-size"},
    "sglang": {"tp": "tp-size", "dp": "dp-size", "pp": "pp-size"},
    "trtllm": {"tp": "tensor_parallel_size", "pp": "pipeline_parallel_size"},
}
_LENGTH = {"vllm": "max-model-len", "sglang": "context-length", "llamacpp": "ctx-size", "trtllm": "max_seq_len"}
_SEQS = {"vllm": "max-num-seqs", "sglang": "max-running-requests", "llamacpp": "parallel", "trtllm": "max_batch_size"}
_FRACTION = {"vllm": "gpu-memory-utilization", "sglang": "mem-fraction-static", "trtllm": "free_gpu_memory_fraction"}


def _int(value: Any, default: int) -> int:
    try:
        return int(float(str(value).replace("_", "")))
    except (TypeError, ValueError):
        return default


def length_flag(engine: str) -> str | None:
    return _LENGTH.get(engine)


def parallel_flag(engine: str, which: str) -> str | None:
    return _PARALLEL.get(engine, {}).get(which)


# trtllm-serve's click options have long and short spellings (tensorrt_llm/commands/serve.py); no flag table is
# committed for it, so a flag keeps the spelling it was given: both are read.
_TRTLLM_ALIASES = {"tensor_parallel_size": "tp_size", "pipeline_parallel_size": "pp_size",
                   "moe_expert_parallel_size": "ep_size", "free_gpu_memory_fraction": "kv_cache_free_gpu_memory_fraction"}


def _flag(spec: LaunchSpec, name: str, default: Any = None) -> Any:
    value = spec.flag(name)
    if value is None and spec.engine == "trtllm" and name in _TRTLLM_ALIASES:
        value = spec.flag(_TRTLLM_ALIASES[name])
    return default if value is None else value


def layout(spec: LaunchSpec) -> dict[str, Any]:
    names = _PARALLEL.get(spec.engine, {})
    tp, dp, pp = (_int(_flag(spec, names[k]), 1) if k in names else 1 for k in ("tp", "dp", "pp"))
    if spec.engine == "vllm":
        ep = spec.flag("enable-expert-parallel") is True
    elif spec.engine == "sglang":
        ep = _int(spec.flag("ep-size"), 1) > 1 or spec.flag("enable-ep-moe") is True
    elif spec.engine == "trtllm":
        ep = _int(_flag(spec, "moe_expert_parallel_size"), 1) > 1
    else:
        ep = False
    return {"tp": max(tp, 1), "dp": max(dp, 1), "pp": max(pp, 1), "ep": ep}


def indexer_dtype(spec: LaunchSpec) -> str:
    """mxfp4 when the FP4 indexer cache is asked for (old bool, new dtype, or SGLang's flag)."""
    if str(spec.flag("attention-config.indexer_kv_dtype", "")).lower() == "mxfp4":
        return "mxfp4"
    if str(spec.flag("attention-config.use_fp4_indexer_cache", "")).lower() == "true":
        return "mxfp4"
    blob = spec.flag("attention-config")
    if isinstance(blob, str) and blob.strip().startswith("{"):
        try:
            cfg = json.loads(blob)
        except ValueError:
            cfg = {}
        if cfg.get("indexer_kv_dtype") == "mxfp4" or cfg.get("use_fp4_indexer_cache") is True:
            return "mxfp4"
    return "mxfp4" if spec.flag("enable-deepseek-v4-fp4-indexer") is True else "fp8"


def kv_format(spec: LaunchSpec) -> str:
    """The KV entry format: fp8 (V4's default path), bf16, or llama.cpp's f16/q8_0."""
    if spec.engine in ("llamacpp", "ollama"):
        k = str(spec.flag("cache-type-k", "f16")).lower()
        return "q8_0" if k == "q8_0" else "f16"
    dtype = str(spec.flag("kv-cache-dtype", "auto")).lower()
    return "bf16" if dtype in ("bfloat16", "bf16", "float16", "half") else "fp8"


def plan(spec: LaunchSpec) -> dict[str, Any]:
    """Keyword arguments for v4doctor.launch.fit.fit() read from the spec (GPU facts come separately)."""
    out = layout(spec)
    out["kv_format"] = kv_format(spec)
    out["indexer"] = indexer_dtype(spec) if spec.engine in ("vllm", "sglang") else out["kv_format"]
    spec_dec = speculative.read(spec)  # the draft's weights, KV layers and rings (v4doctor.launch.speculative)
    out["mtp"] = spec_dec["method"] in speculative.DRAFT_METHODS
    if spec_dec["method"]:
        out["spec_method"], out["num_speculative_tokens"] = spec_dec["method"], spec_dec["num_speculative_tokens"]
        out.update({k: spec_dec[v] for k, v in (("spec_steps", "num_steps"), ("spec_topk", "eagle_topk")) if spec_dec.get(v)})
    frac = _FRACTION.get(spec.engine)
    if frac and _flag(spec, frac) is not None:
        try:
            out["fraction"] = float(_flag(spec, frac))
        except (TypeError, ValueError):
            pass
    length = _LENGTH.get(spec.engine)
    if length and spec.flag(length) is not None:
        out["max_model_len"] = _int(spec.flag(length), 0) or None
    seqs = _SEQS.get(spec.engine)
    if seqs and spec.flag(seqs) is not None and spec.engine != "vllm":
        out["max_num_seqs"] = max(_int(spec.flag(seqs), 1), 1)
    out.update(_engine_memory_flags(spec))
    return out


def _engine_memory_flags(spec: LaunchSpec) -> dict[str, Any]:
    """The flags each engine's own memory accounting reads (v4doctor.launch.fit_vllm / fit_sglang / fit_llamacpp)."""
    out: dict[str, Any] = {}
    if spec.engine == "vllm":
        if spec.flag("max-num-batched-tokens") is not None:
            out["max_num_batched_tokens"] = max(_int(spec.flag("max-num-batched-tokens"), 0), 0) or None
        if spec.flag("async-scheduling") is not None:  # --async-scheduling / --no-async-scheduling
            out["async_scheduling"] = spec.flag("async-scheduling") is True
        if spec.flag("kv-cache-memory-bytes") is not None:
            out["kv_cache_memory_bytes"] = _bytes(spec.flag("kv-cache-memory-bytes"))
    elif spec.engine == "sglang":
        out["dp_attention"] = spec.flag("enable-dp-attention") is True
        for flag, key in (("max-running-requests", "max_running_requests"), ("chunked-prefill-size", "chunked_prefill_size")):
            if _int(spec.flag(flag), 0) > 0:  # cap mode's request cap and prefill chunks (fit_sglang.cap_fixed_bytes)
                out[key] = _int(spec.flag(flag), 0)
    elif spec.engine in ("llamacpp", "ollama"):
        if spec.flag("cpu-moe") is True:
            out["n_cpu_moe"] = 10_000  # every layer's experts in RAM (clamped to the layer count)
        elif spec.flag("n-cpu-moe") is not None:
            out["n_cpu_moe"] = max(_int(spec.flag("n-cpu-moe"), 0), 0)
        if _int(spec.flag("ubatch-size"), 0) > 0:  # -ub: the compute buffer scales with it (fit_llamacpp.compute_slope)
            out["n_ubatch"] = _int(spec.flag("ubatch-size"), 0)
        if str(spec.flag("flash-attn", "")).lower() in ("off", "0", "false", "no"):  # -fa off; on/auto keep the default
            out["flash_attn"] = False
    return out


def _bytes(value: Any) -> int | None:
    """vLLM's --kv-cache-memory-bytes: 5.6g, 8GiB, 1e10."""
    text = str(value).strip().lower().replace("ib", "").replace("b", "")
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}.get(text[-1:], 1)
    try:
        return int(float(text[:-1] if mult > 1 else text) * mult)
    except ValueError:
        return None


def image_version(image: str | None) -> str | None:
    """`vllm/vllm-openai:v0.26.0-cu129` -> "0.26.0"; None for latest / nightly / deepseekv4-* tags."""
    if not image or ":" not in image:
        return None
    tag = image.rsplit(":", 1)[1]
    m = re.match(r"v?(\d+\.\d+\.\d+(?:\.post\d+|rc\d+)?)", tag)
    return m.group(1) if m else None


def visible_gpus(spec: LaunchSpec, host_count: int) -> int:
    """GPUs the launch can use: CUDA_VISIBLE_DEVICES, docker --gpus N / device=0,1, compose count."""
    n = host_count
    cvd = spec.env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() and not cvd.startswith("$"):
        n = min(n, len([d for d in cvd.split(",") if d.strip()]))
    g = (spec.gpus or "").strip().strip('"')
    if g.isdigit():
        n = min(n, int(g))
    elif g.startswith("device="):
        n = min(n, len(g[7:].split(",")))
    return n


def resolve_model(spec: LaunchSpec, kb, fallback: dict | None = None) -> dict | None:
    """The knowledge-base record of the spec's model (a GGUF path matches its repo's record by name)."""
    if spec.model:
        from v4doctor.knowledge.quants import quant_of, with_quant

        found = kb.find_model(spec.model) or kb.find_model(spec.model.split(":")[0].removeprefix("hf.co/"))
        if found:
            return with_quant(found, quant_of(spec.model))  # REPO:QUANT: that quant's size
        name = spec.model.lower()
        if name.endswith(".gguf") or "gguf" in name:
            want = "pro" if "pro" in name else "flash"
            gguf = [m for m in kb.models if m.get("format") == "gguf" and m.get("base") == want]
            if gguf:
                return gguf[0]
    return fallback


def fit_for_spec(spec: LaunchSpec, model: dict, kb, gpu_count: int, gpu_mem_gib: float, *, gpu_name: str = "",
                 engine_version: str | None = None):
    """The memory fit of a launch spec on `gpu_count` GPUs of `gpu_mem_gib` each."""
    from v4doctor.launch.fit import fit

    base = kb.find_model(model["base"]) if model.get("base") else None
    kwargs = plan(spec)
    engine = "llamacpp" if spec.engine == "ollama" else spec.engine
    if engine == "llamacpp":
        kwargs.update(tp=max(gpu_count, 1), dp=1, pp=1, ep=False)
        kwargs.setdefault("kv_format", "f16")
    version = image_version(spec.image) or engine_version  # the image the plan runs wins over what this Python has
    return fit(model, gpus=gpu_count, gpu_mem_gib=gpu_mem_gib, engine=engine, base=base, gpu_name=gpu_name,
               engine_version=version, **kwargs)


# --------------------------------------------------------------------------- multi-node plans
def nodes(spec: LaunchSpec) -> dict[str, Any]:
    """How a plan spans nodes: backend, node count and rank, head address (None where the command does not say).

        vllm serve M -tp 8 -pp 2 --distributed-executor-backend ray  -> backend ray, nnodes None (Ray places the ranks)
        vllm serve M -tp 8 --nnodes 2 --node-rank 1 --master-addr 10.0.0.1 --headless  -> backend mp, nnodes 2, rank 1
        vllm serve M -dp 16 --data-parallel-size-local 8 --data-parallel-start-rank 8 -ep  -> backend mp, nnodes 2, rank 1
        python -m sglang.launch_server --tp 16 --nnodes 2 --node-rank 0 --dist-init-addr 10.0.0.1:5000  -> nnodes 2
    """
    nnodes = _int(spec.flag("nnodes"), 0) or None
    rank = _int(spec.flag("node-rank"), -1)
    if spec.engine == "vllm" and not nnodes and _int(spec.flag("data-parallel-size-local"), 0) > 0:
        # multi-node DP (recipe multi_node_dep): --data-parallel-size D --data-parallel-size-local L on each of D/L nodes,
        # the follower at --data-parallel-start-rank k*L
        local, dp = _int(spec.flag("data-parallel-size-local"), 1), layout(spec)["dp"]
        nnodes = -(-dp // local) if dp > local else None
        rank = _int(spec.flag("data-parallel-start-rank"), 0) // local if nnodes else -1
    if spec.engine == "vllm":
        backend = str(spec.flag("distributed-executor-backend") or ("mp" if nnodes else "")) or None
        head = spec.flag("master-addr") or spec.flag("data-parallel-address")
    elif spec.engine == "sglang":
        backend, head = ("torch" if nnodes else None), spec.flag("dist-init-addr")
    else:
        backend, head = None, None
    return {"backend": backend, "nnodes": nnodes, "node_rank": rank if rank >= 0 else None,
            "head": head if isinstance(head, str) else None, "world": world_size(spec)}


def world_size(spec: LaunchSpec) -> int:
    """GPU ranks of the whole plan: TP x PP x DP."""
    lay = layout(spec)
    return lay["tp"] * lay["pp"] * lay["dp"]


def gpus_per_node(spec: LaunchSpec) -> int | None:
    """The GPUs each node must give a plan that says its node count (`--nnodes`); None when Ray places the ranks."""
    n = nodes(spec)
    if not n["nnodes"] or n["nnodes"] < 2:
        return None
    return -(-n["world"] // n["nnodes"])


def spans_nodes(spec: LaunchSpec, host_gpus: int) -> bool:
    """True when the plan runs on several nodes: `--nnodes` > 1, or a Ray-backend plan needing more GPUs than this host has."""
    n = nodes(spec)
    return bool(n["nnodes"] and n["nnodes"] > 1) or (n["backend"] == "ray" and n["world"] > host_gpus)
