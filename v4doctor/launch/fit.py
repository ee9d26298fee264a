"""Memory fit (pure): will the weights fit, how big is the KV pool, how long a context fits.

Per GPU:  usable = fraction x GPU memory;  KV pool = usable - weights - engine overhead.
Weights by layout: TP and PP shard everything; DP+EP replicates the non-expert part (TP-sharded)
and shards the experts over TP x DP; SGLang's --enable-dp-attention runs DP inside the TP group.
The expert/non-expert split is derived from the config fields in the model record.
The KV cache follows each engine's own accounting, per version: vLLM's block pool
(`fit_vllm`), SGLang's full-token pools (`fit_sglang`), llama.cpp's deepseek4 caches
(`fit_llamacpp`); docs/fit.md cites the engine file and function for each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from v4doctor.launch import fit_llamacpp, fit_sglang, fit_vllm, speculative
from v4doctor.launch.fit_pools import (  # noqa: F401  (re-exported: the fit's public names)
    ALIGN, BLOCK, GIB, INDEXER_BYTES, LATENT_BYTES, OVERHEAD_FLOOR_GIB, POOLS, VLLM_FIXED_PER_SEQ_FLASH, fixed_bytes_per_seq,
    kv_bytes_per_token,
)

CONTEXT_V4 = 1_048_576
EXPERT_BYTES_PER_PARAM = {"fp4": 4.25 / 8, "mxfp4": 4.25 / 8, "nvfp4": 4.5 / 8, "fp8": 1.0, "bf16": 2.0, "int4": 4.25 / 8}
# Engine overhead per GPU outside weights and KV when no batched-token count is known (CUDA context,
# NCCL buffers, activation peak, CUDA graphs). vLLM: fit_vllm.overhead_gib(); SGLang: inside the fraction.
OVERHEAD_GIB = {"vllm": fit_vllm.OVERHEAD_GIB, "sglang": 0.0, "trtllm": fit_vllm.OVERHEAD_GIB, "llamacpp": fit_llamacpp.COMPUTE_GIB + fit_llamacpp.CONTEXT_GIB,
                "ollama": fit_llamacpp.COMPUTE_GIB + fit_llamacpp.CONTEXT_GIB}
DEFAULT_FRACTION = {"vllm": 0.92,  # vLLM 0.20 and 0.33 default (CacheConfig, --help=all)
                     "trtllm": 0.9,  # --kv_cache_free_gpu_memory_fraction default (tensorrt_llm/commands/serve.py)
                     "sglang": 0.85,  # only where no GPU memory is known; fit_sglang.default_fraction() otherwise
                     "llamacpp": 1.0, "ollama": 1.0}


@dataclass
class FitResult:
    model: str
    engine: str
    gpus: int
    gpu_mem_gib: float
    tp: int
    dp: int
    pp: int
    ep: bool
    kv_format: str
    fraction: float
    weights_gib_total: float
    expert_gib_total: float
    weights_gib_per_gpu: float
    overhead_gib_per_gpu: float
    usable_gib_per_gpu: float
    kv_budget_gib_per_gpu: float
    kv_bytes_per_token: float
    fixed_bytes_per_seq: float
    kv_pools: int  # independent KV pools (DP ranks); TP ranks hold replicas
    kv_tokens: int
    max_num_seqs: int
    max_model_len: int
    max_model_len_fits: int
    concurrency_at_max_len: float
    weights_fit: bool
    fits: bool
    notes: list[str] = field(default_factory=list)
    max_model_len_fits_low: int = 0  # the same with the lowest measured engine overhead (OVERHEAD_FLOOR_GIB)
    engine_version: str | None = None
    gpus_used: int = 0  # GPUs the layout occupies (TP x DP x PP; SGLang DP-attention runs inside TP)
    layout_error: str | None = None  # the layout does not match the GPUs given: never "fits"
    max_concurrency: float = 0.0  # requests of the asked length the pools hold at once (vLLM's "Maximum concurrency")
    estimated_max_model_len: int = 0  # the longest single request the engine would accept
    kv_tokens_per_pool: int = 0  # what one engine prints: vLLM "GPU KV cache size", SGLang max_total_num_tokens
    kv_blocks: int = 0  # vLLM: pool blocks (0 for other engines)
    in_flight_tokens: int = 0  # vLLM: max_num_batched_tokens x batches in flight
    n_cpu_moe: int = 0  # llama.cpp: layers whose experts stay in RAM
    n_cpu_moe_needed: int | None = None  # llama.cpp: the fewest --n-cpu-moe that fit VRAM (None: none does)
    unknown: list[str] = field(default_factory=list)  # figures no source gives, with the reason
    speculative: str | None = None  # the speculative-decoding method the fit counts (mtp, dspark, eagle, ngram, ...)
    draft_layers: int = 0  # vLLM: the draft's window-only KV layers (MTP: num_nextn_predict_layers, DSpark: 3)

    @property
    def fits_low(self) -> bool:
        """Fits with the lowest overhead an engine log has shown: below this a verdict is an error, not a guess."""
        return (not self.layout_error and self.max_model_len_fits_low >= self.max_model_len
                and self.weights_gib_per_gpu < self.usable_gib_per_gpu)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


# --------------------------------------------------------------------------- weights
def expert_params(model: dict) -> float | None:
    """Routed-expert parameters from the config fields: (layers + MTP layer) x experts x 3 x hidden x moe_intermediate.

    V4 configs carry `num_nextn_predict_layers: 1`; the MTP layer is a full MoE layer stored in the checkpoint.
    """
    keys = ("layers", "n_routed_experts", "hidden_size", "moe_intermediate_size")
    if not all(model.get(k) for k in keys):
        return None
    layers = model["layers"] + model.get("num_nextn_predict_layers", 1)
    return float(layers * model["n_routed_experts"] * 3 * model["hidden_size"] * model["moe_intermediate_size"])


def weight_split(model: dict, base: dict | None = None, mtp: bool = False) -> tuple[float, float, list[str]]:
    """(loaded bytes, expert bytes, notes); the MTP layer's experts load only with MTP speculative decoding.

    A re-quant without a recorded size borrows its base's non-expert part."""
    ref = model if model.get("disk_bytes") else base
    if ref is None or not ref.get("disk_bytes"):
        raise ValueError(f"no size on disk for {model.get('name', model.get('key'))} or its base")
    params = expert_params(model) or expert_params(ref) or (expert_params(base) if base else None)
    if params is None:
        return float(ref["disk_bytes"]), 0.0, ["no expert/non-expert split (config fields missing): all weights treated as sharded"]
    if model.get("format") == "gguf" and model.get("disk_bytes"):
        return _gguf_split(model, base, params)
    dtype = str(model.get("expert_dtype", ref.get("expert_dtype", "fp4")))
    non_expert = max(float(ref["disk_bytes"]) - params * EXPERT_BYTES_PER_PARAM.get(str(ref.get("expert_dtype", "fp4")), 4.25 / 8), 0.0)
    layers = model.get("layers", ref.get("layers", 43))
    loaded = params if mtp else params * layers / (layers + 1)
    expert = loaded * EXPERT_BYTES_PER_PARAM.get(dtype, 4.25 / 8)
    notes = [f"expert weights derived: {loaded / 1e9:.1f}B params x {dtype} = {expert / GIB:.1f} GiB "
             f"({'with' if mtp else 'without'} the MTP layer's experts); non-expert = checkpoint - all experts = {non_expert / GIB:.1f} GiB"]
    if ref is not model:
        notes.append(f"size estimated from {ref.get('name')} with experts at {dtype}")
    return non_expert + expert, expert, notes


def _gguf_split(model: dict, base: dict | None, params: float) -> tuple[float, float, list[str]]:
    """A GGUF's quant types vary per tensor: its experts are the file's share of routed-expert parameters."""
    total = float(model["disk_bytes"])
    all_params = float((base or {}).get("total_params_b") or model.get("total_params_b") or 0) * 1e9
    if not all_params:
        return total, 0.0, ["GGUF: no parameter count for the expert split: all weights treated as one block"]
    expert = total * min(params / all_params, 1.0)
    return total, expert, [f"GGUF: experts = the file's share of routed-expert parameters ({params / all_params:.0%}) = {expert / GIB:.1f} GiB"]


def weights_per_gpu(total: float, expert: float, tp: int, dp: int, pp: int, ep: bool, *, dp_attention: bool = False) -> float:
    """TP and PP shard everything; with EP the experts shard over TP x DP, the rest is replicated per DP rank.
    SGLang's DP attention runs inside the TP group: attention is TP/DP-sharded, the experts TP-sharded."""
    non_expert = total - expert
    if dp_attention:
        return non_expert / (max(tp // max(dp, 1), 1) * pp) + expert / (tp * pp)
    if ep:
        return non_expert / (tp * pp) + expert / (tp * dp * pp)
    return total / (tp * pp)


def gpus_used(engine: str, tp: int, dp: int, pp: int, dp_attention: bool = False) -> int:
    """GPUs a layout occupies: TP x DP x PP, except SGLang's DP attention, which runs inside the TP group."""
    if engine in ("llamacpp", "ollama"):
        return tp
    return tp * pp if (engine == "sglang" and dp_attention) else tp * dp * pp


def layout_error(engine: str, gpus: int, tp: int, dp: int, pp: int, dp_attention: bool = False) -> str | None:
    """The reason a layout cannot run on `gpus` GPUs, or None. Fewer GPUs than given is allowed (a note)."""
    used = gpus_used(engine, tp, dp, pp, dp_attention)
    if engine == "sglang" and dp_attention and tp % max(dp, 1):
        return f"SGLang's --dp {dp} with --enable-dp-attention must divide --tp {tp}"
    if used > gpus:
        how = f"TP {tp} x PP {pp} (DP {dp} runs inside TP with DP attention)" if engine == "sglang" and dp_attention else f"TP {tp} x DP {dp} x PP {pp}"
        return f"{how} needs {used} GPUs, but {gpus} {'is' if gpus == 1 else 'are'} given"
    return None


# --------------------------------------------------------------------------- the fit
def _version(text: str | None) -> tuple[int, ...] | None:
    """"0.33.0", "v0.5.23.post1", "0.26.0+cu129" -> (0, 33, 0); None when absent or unreadable."""
    if not text:
        return None
    parts = []
    for piece in str(text).lstrip("vV").split("+")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def _kv_model(model: dict, base: dict | None) -> dict:
    return model if model.get("csa_layers") or model.get("kv_bytes_per_token") or not base else base


def fit(model: dict, *, gpus: int, gpu_mem_gib: float, engine: str = "vllm", tp: int = 1, dp: int = 1, pp: int = 1,
        ep: bool = False, kv_format: str = "fp8", indexer: str = "fp8", fraction: float | None = None,
        max_model_len: int | None = None, max_num_seqs: int = 1, base: dict | None = None, mtp: bool = False,
        overhead_gib: float | None = None, kv_pool_gib: float | None = None, engine_version: str | None = None,
        gpu_name: str = "", max_num_batched_tokens: int | None = None, async_scheduling: bool | None = None,
        dp_attention: bool = False, kv_cache_memory_bytes: int | None = None, n_cpu_moe: int = 0,
        spec_method: str | None = None, num_speculative_tokens: int = 0, spec_steps: int | None = None,
        spec_topk: int | None = None, max_running_requests: int | None = None,
        chunked_prefill_size: int | None = None, n_ubatch: int | None = None, flash_attn: bool | None = None) -> FitResult:
    """The memory fit of one plan. `kv_pool_gib` overrides the computed pool (an engine's own printed number).
    `spec_method` (mtp, dspark, eagle, nextn, ngram, ...; `mtp=True` alone means "mtp") adds the draft's weights,
    its window-only KV layers (vLLM) or SGLang's speculative rings and draft share (v4doctor.launch.speculative)."""
    engine = "llamacpp" if engine == "ollama" else engine
    spec_method = (spec_method or ("mtp" if mtp else None))
    spec_method = spec_method.lower() if spec_method else None
    mtp = mtp or speculative.draft_layers(model, spec_method) > 0
    name = model.get("name", model.get("key", "?"))
    total, expert, notes = weight_split(model, base, mtp)
    layers = int(model.get("layers") or (base or {}).get("layers") or 43)
    n_cpu_moe = min(max(n_cpu_moe, 0), layers)
    gpu_weights = fit_llamacpp.gpu_bytes(total, expert, layers, n_cpu_moe=n_cpu_moe) if engine == "llamacpp" else total
    if engine == "llamacpp":
        per_gpu = gpu_weights / max(tp, 1) / GIB
    else:
        per_gpu = weights_per_gpu(total, expert, tp, dp, pp, ep, dp_attention=dp_attention and engine == "sglang") / GIB
    if engine == "sglang":  # what SGLang replicates per attention-TP rank and upcasts (fit_sglang.weights_extra_gib)
        arch = _kv_model(model, base)
        attn_tp = tp // max(dp, 1) if dp_attention else tp
        extra = fit_sglang.weights_extra_gib(model.get("hidden_size") or (base or {}).get("hidden_size"), layers,
                                             arch.get("csa_layers", 0), arch.get("hca_layers", 0), attn_tp=attn_tp, pp=pp,
                                             gpu_name=gpu_name, rocm=gpu_name.upper().startswith(("AMD", "MI")))
        if extra:
            per_gpu += extra
            notes.append(f"SGLang loads {extra:.2f} GiB/GPU more than an even split: replicated wq_a/wkv, compressor, "
                         "indexer and mHC weights, and wo_a in bf16 below sm100")
    if fraction is not None:
        frac = fraction
    elif engine == "sglang":
        frac = fit_sglang.default_fraction(gpu_mem_gib, tp=tp, pp=pp, dp=dp, dp_attention=dp_attention, speculative=spec_method,
                                           version=_version(engine_version))
    else:
        frac = DEFAULT_FRACTION.get(engine, 0.9)
    context = int(model.get("context") or (base or {}).get("context") or CONTEXT_V4)
    asked = max_model_len or context
    pools = max(dp, 1) if engine in ("vllm", "sglang") else 1
    pool_given = kv_pool_gib if kv_pool_gib is not None else (kv_cache_memory_bytes / GIB if kv_cache_memory_bytes else None)
    p = {"name": name, "gpu_mem_gib": gpu_mem_gib, "gpu_name": gpu_name, "pp": max(pp, 1), "asked": asked, "context": context,
         "seqs": max(math.ceil(max_num_seqs / pools), 1), "version": _version(engine_version), "indexer": indexer,
         "kv_format": kv_format, "max_num_batched_tokens": max_num_batched_tokens, "async_scheduling": async_scheduling,
         "overhead_gib": overhead_gib, "pool_gib": pool_given, "usable": frac * gpu_mem_gib, "per_gpu": per_gpu,
         "fraction": frac, "mtp": mtp, "gpus": max(tp, 1), "spec_method": spec_method,
         "draft_layers": speculative.draft_layers(model, spec_method) if engine == "vllm" else 0,
         "spec_tokens": num_speculative_tokens or None, "spec_steps": spec_steps, "spec_topk": spec_topk,
         "max_running": max_running_requests, "chunk": chunked_prefill_size,
         "attn_dp": max(dp, 1) if dp_attention and engine == "sglang" else 1,
         "n_ubatch": n_ubatch or fit_llamacpp.N_UBATCH, "flash_attn": flash_attn is not False}
    kvm = _kv_model(model, base)
    cap = POOLS.get(engine, POOLS["llamacpp"])(kvm, p)
    notes += cap["notes"]
    err = layout_error(engine, gpus, tp, dp, pp, dp_attention and engine == "sglang")
    used = gpus_used(engine, tp, dp, pp, dp_attention and engine == "sglang")
    if err:
        notes.append(f"layout error: {err}")
    elif used < gpus:
        notes.append(f"the layout uses {used} of the {gpus} GPUs given")
    usable = gpu_mem_gib if engine == "trtllm" else frac * gpu_mem_gib  # TensorRT-LLM's fraction is of what is left
    weights_fit = per_gpu + cap["overhead"] < usable and cap["pool"] > 0
    needed = None
    if engine == "llamacpp":
        kv_total = cap["bpt"] * asked + cap["fixed"]
        needed = fit_llamacpp.n_cpu_moe_to_fit(total, expert, layers, gpu_mem_gib * GIB * max(tp, 1),
                                               cap["overhead"] * GIB * max(tp, 1) + kv_total)
    notes.append("KV is replicated on every TP rank (1 KV head); each DP rank has its own pool")
    return FitResult(
        model=name, engine=engine, gpus=gpus, gpu_mem_gib=gpu_mem_gib, tp=tp, dp=dp, pp=pp,
        ep=ep, kv_format=kv_format if indexer in ("fp8", kv_format) else f"{kv_format}+{indexer}-indexer", fraction=frac,
        weights_gib_total=total / GIB, expert_gib_total=expert / GIB, weights_gib_per_gpu=per_gpu,
        overhead_gib_per_gpu=cap["overhead"], usable_gib_per_gpu=usable, kv_budget_gib_per_gpu=cap["pool"],
        kv_bytes_per_token=cap["bpt"], fixed_bytes_per_seq=cap["fixed"], kv_pools=pools,
        kv_tokens=cap["printed"] * pools, max_num_seqs=max_num_seqs, max_model_len=asked,
        max_model_len_fits=cap["len_fits"] if weights_fit else 0, concurrency_at_max_len=cap["concurrency"] * pools,
        weights_fit=weights_fit, fits=weights_fit and not err and cap["len_fits"] >= asked, notes=notes,
        max_model_len_fits_low=cap["len_fits_low"], engine_version=engine_version, gpus_used=used, layout_error=err,
        max_concurrency=cap["concurrency"] * pools, estimated_max_model_len=cap["est"] if weights_fit else 0,
        kv_tokens_per_pool=cap["printed"], kv_blocks=cap["blocks"], in_flight_tokens=cap["in_flight"],
        n_cpu_moe=n_cpu_moe, n_cpu_moe_needed=needed, speculative=spec_method, draft_layers=p["draft_layers"],
    )


def rows(r: FitResult) -> list[tuple[str, str, str]]:
    """The arithmetic, one (quantity, value, how) row at a time, for `v4doctor fit`."""
    layout = f"TP={r.tp} PP={r.pp} DP={r.dp}{' +EP' if r.ep else ''}"
    out = [
        ("layout", f"{r.gpus_used} of {r.gpus} GPU(s)", r.layout_error or layout),
        ("weights (loaded)", f"{r.weights_gib_total:.2f} GiB", f"experts {r.expert_gib_total:.2f} GiB (derived)"),
        ("weights per GPU", f"{r.weights_gib_per_gpu:.2f} GiB", layout + (f", experts of {r.n_cpu_moe} layers in RAM" if r.n_cpu_moe else "")),
        ("usable per GPU", f"{r.usable_gib_per_gpu:.2f} GiB", f"{r.fraction:g} x {r.gpu_mem_gib:.1f} GiB"),
        ("engine overhead", f"{r.overhead_gib_per_gpu:.2f} GiB", _overhead_how(r)),
        ("KV budget per GPU", f"{r.kv_budget_gib_per_gpu:.2f} GiB", "usable - weights - overhead" if r.engine != "sglang" else "free after loading - before x (1 - fraction)"),
        ("KV bytes per token", f"{r.kv_bytes_per_token:,.2f} B" if r.engine == "sglang" else f"{r.kv_bytes_per_token:,.0f} B", _kv_how(r)),
        ("fixed KV per sequence", f"{r.fixed_bytes_per_seq / 1e9:.2f} GB", "sliding window + compressor state" + (f" for {r.in_flight_tokens:,} in-flight tokens" if r.in_flight_tokens else "")),
        ("KV pools", str(r.kv_pools), "one per DP rank; TP ranks replicate"),
        ("KV tokens", f"{r.kv_tokens:,}", f"{r.kv_tokens_per_pool:,} per pool (what the engine prints)"),
        ("max concurrency", f"{r.max_concurrency:.2f}x", f"requests of {r.max_model_len:,} tokens at once"),
        ("estimated max-model-len", f"{r.estimated_max_model_len:,}", "the longest single request the engine accepts"),
        ("largest max-model-len", f"{r.max_model_len_fits:,}", f"at {r.max_num_seqs} sequence(s)"),
    ]
    if r.engine == "llamacpp":
        need = "none fits" if r.n_cpu_moe_needed is None else f"--n-cpu-moe {r.n_cpu_moe_needed}"
        out.append(("CPU expert offload", need, "the fewest layers whose experts stay in RAM to fit VRAM"))
    verdict = "layout error" if r.layout_error else ("weights fit" if r.weights_fit else "weights do not fit")
    out.append(("fits", "yes" if r.fits else "no", verdict))
    return out


def _overhead_how(r: FitResult) -> str:
    return {"vllm": "activation peak + CUDA graphs + NCCL (calibrated)", "sglang": "inside --mem-fraction-static",
            "llamacpp": "compute buffer at this context (indexer scores, from llama.cpp's graph) + CUDA context"}.get(r.engine, "assumed")


def _kv_how(r: FitResult) -> str:
    if r.engine == "vllm":
        return f"{r.kv_format}: block pool, 256-token blocks ({r.kv_blocks:,} blocks)" if r.kv_blocks else f"{r.kv_format}: published bytes per token"
    if r.engine == "sglang":
        return "SGLang's bytes_per_full_token (sliding-window and ring share included)"
    return f"{r.kv_format}: CSA + HCA caches, 128-cell window per layer"
