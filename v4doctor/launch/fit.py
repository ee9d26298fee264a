"""Memory fit (pure): will the weights fit, how big is the KV pool, how long a context fits.

Per GPU:  usable = fraction x GPU memory;  KV pool = usable - weights - engine overhead.
Weights by layout: TP and PP shard everything; DP+EP replicates the non-expert part (TP-sharded)
and shards the experts over TP x DP. The expert/non-expert split is derived from the config
fields in the model record: layers x experts x 3 x hidden x moe_intermediate params at the
expert dtype (the rest of the checkpoint is non-expert).
KV per token follows V4's compressed attention (v4-facts §5, review §5): ratio-4 CSA layers
store a latent + an indexer key per 4 tokens, ratio-128 HCA layers a latent per 128 tokens,
vLLM pages padded to 576 B; under TP the single KV head is replicated on every rank.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

GIB = 1 << 30
CONTEXT_V4 = 1_048_576
BLOCK = 256  # vLLM block size for V4 (chosen by the engine since 0.20)
ALIGN = 576  # vLLM pads each KV page to the 576-byte TMA stride (review §5)
# Bytes per stored entry by KV format: (latent, indexer key); review §5 / v4-facts §5.1.
LATENT_BYTES = {"fp8": 584, "bf16": 1024, "f16": 1024, "q8_0": 544}
INDEXER_BYTES = {"fp8": 132, "mxfp4": 68, "bf16": 256, "f16": 256, "q8_0": 136}
EXPERT_BYTES_PER_PARAM = {"fp4": 4.25 / 8, "mxfp4": 4.25 / 8, "nvfp4": 4.5 / 8, "fp8": 1.0, "bf16": 2.0}
# Context-independent KV reservation per sequence in vLLM (sliding-window and compressor state,
# sized for the in-flight tokens): ~3.2e9 B for Flash, from the fit in
# github.com/tonyd2wild/DeepSeek-v4-Flash-Vision-Exp-DSpark-1M-NVFP4-KV-2x-DGX-Spark/issues/57
# ("~3,300 B + 3.2e9 / max_model_len" per token); scaled by layer count for other models.
VLLM_FIXED_PER_SEQ_FLASH = 3.2e9
# Engine overhead per GPU outside weights and KV (CUDA context, NCCL buffers, activation peak at
# 8192 batched tokens, CUDA graphs). Assumption calibrated on the GH200 and GB10 figures (tests).
OVERHEAD_GIB = {"vllm": 10.0, "sglang": 0.0, "llamacpp": 4.0, "ollama": 4.0}
# The lowest overhead an engine's own log implies, for verdicts that must not cry wolf (V4D302 errors only
# below it): H20 TP=2, vLLM 0.26.0, Flash (github.com/vllm-project/vllm/issues/51041): 0.92 x 95.58 GiB
# - 72.73 GiB of weights - the printed 7.01 GiB KV pool = 8.2 GiB. (GH200, #44376, implies 12.9 GiB.)
OVERHEAD_FLOOR_GIB = {"vllm": 8.0}
# SGLang's --mem-fraction-static covers weights + KV only; activations and CUDA graphs live in the rest.
DEFAULT_FRACTION = {"vllm": 0.92,  # vLLM 0.20 and 0.33 default (CacheConfig, --help=all)
                     "sglang": 0.85, "llamacpp": 1.0, "ollama": 1.0}


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

    @property
    def fits_low(self) -> bool:
        """Fits with the lowest overhead an engine log has shown: below this a verdict is an error, not a guess."""
        return self.max_model_len_fits_low >= self.max_model_len and self.weights_gib_per_gpu < self.usable_gib_per_gpu

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
    params = expert_params(model) or expert_params(ref)
    if params is None:
        return float(ref["disk_bytes"]), 0.0, ["no expert/non-expert split (config fields missing): all weights treated as sharded"]
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


def weights_per_gpu(total: float, expert: float, tp: int, dp: int, pp: int, ep: bool) -> float:
    """TP and PP shard everything; with EP the experts shard over TP x DP, the rest is replicated per DP rank."""
    non_expert = total - expert
    if ep:
        return non_expert / (tp * pp) + expert / (tp * dp * pp)
    return total / (tp * pp)


# --------------------------------------------------------------------------- KV cache
def _pad(n: float) -> float:
    return math.ceil(n / ALIGN) * ALIGN


def kv_bytes_per_token(model: dict, kv_format: str, indexer: str = "fp8", padded: bool = True) -> float:
    """Bytes per token of context: CSA (ratio 4) latent + indexer key, HCA (ratio 128) latent."""
    e_kv, e_idx = LATENT_BYTES[kv_format], INDEXER_BYTES[indexer]
    csa, hca = model.get("csa_layers", 0), model.get("hca_layers", 0)
    if not padded:
        return csa * (e_kv + e_idx) / 4 + hca * e_kv / 128
    per_block = csa * (_pad(BLOCK / 4 * e_kv) + _pad(BLOCK / 4 * e_idx)) + hca * _pad(BLOCK / 128 * e_kv)
    return per_block / BLOCK


def fixed_bytes_per_seq(model: dict, engine: str, kv_format: str) -> float:
    if engine == "vllm":
        return VLLM_FIXED_PER_SEQ_FLASH * model.get("layers", 43) / 43
    return model.get("layers", 43) * 128 * LATENT_BYTES[kv_format]  # the 128-token window on every layer


# --------------------------------------------------------------------------- the fit
def _kv_layout(model: dict, base: dict | None, engine: str, kv_format: str, indexer: str) -> tuple[float, float]:
    """(bytes per token, fixed bytes per sequence); a GGUF/re-quant record may carry only its base's layout."""
    kv_model = model if model.get("csa_layers") or not base else base
    bpt = kv_bytes_per_token(kv_model, kv_format, indexer, padded=engine == "vllm")
    if bpt <= 0:
        raise ValueError(f"{model.get('name', model.get('key'))}: the knowledge base has no CSA/HCA layer counts for its KV cache")
    return bpt, fixed_bytes_per_seq(kv_model, engine, kv_format)


def _capacity(pool_gib: float, bpt: float, fixed: float, *, context: int, asked: int, dp: int, pp: int,
              max_num_seqs: int, engine: str) -> tuple[int, float]:
    """(largest max-model-len at `max_num_seqs`, concurrency at the asked length) for one pool per DP rank."""
    pool_bytes = max(pool_gib, 0.0) * GIB * pp  # PP: a stage holds only its layers' KV, so a token costs 1/pp per GPU
    seqs_per_pool = max(math.ceil(max_num_seqs / dp), 1)
    len_fits = min(int(max((pool_bytes / seqs_per_pool - fixed) / bpt, 0)), context)
    if engine == "vllm":
        len_fits = len_fits // BLOCK * BLOCK
    return len_fits, dp * pool_bytes / (asked * bpt + fixed)


def fit(model: dict, *, gpus: int, gpu_mem_gib: float, engine: str = "vllm", tp: int = 1, dp: int = 1, pp: int = 1,
        ep: bool = False, kv_format: str = "fp8", indexer: str = "fp8", fraction: float | None = None,
        max_model_len: int | None = None, max_num_seqs: int = 1, base: dict | None = None, mtp: bool = False,
        overhead_gib: float | None = None, kv_pool_gib: float | None = None) -> FitResult:
    """The memory fit of one plan. `kv_pool_gib` overrides the computed pool (an engine's own printed number)."""
    total, expert, notes = weight_split(model, base, mtp)
    per_gpu = weights_per_gpu(total, expert, tp, dp, pp, ep) / GIB
    frac = fraction if fraction is not None else DEFAULT_FRACTION.get(engine, 0.9)
    overhead = OVERHEAD_GIB.get(engine, 8.0) if overhead_gib is None else overhead_gib
    usable = frac * gpu_mem_gib
    pool = kv_pool_gib if kv_pool_gib is not None else usable - per_gpu - overhead
    bpt, fixed = _kv_layout(model, base, engine, kv_format, indexer)
    context = int(model.get("context", CONTEXT_V4))
    asked = max_model_len or context
    len_fits, concurrency = _capacity(pool, bpt, fixed, context=context, asked=asked, dp=dp, pp=pp,
                                      max_num_seqs=max_num_seqs, engine=engine)
    weights_fit = per_gpu + overhead < usable
    low_pool = pool if kv_pool_gib is not None else pool + overhead - min(overhead, OVERHEAD_FLOOR_GIB.get(engine, overhead))
    len_fits_low = _capacity(low_pool, bpt, fixed, context=context, asked=asked, dp=dp, pp=pp,
                             max_num_seqs=max_num_seqs, engine=engine)[0]
    notes.append(f"engine overhead assumed {overhead:.1f} GiB/GPU (CUDA context, NCCL, activations, CUDA graphs)")
    notes.append("KV is replicated on every TP rank (1 KV head); each DP rank has its own pool")
    return FitResult(
        model=model.get("name", model.get("key", "?")), engine=engine, gpus=gpus, gpu_mem_gib=gpu_mem_gib, tp=tp, dp=dp, pp=pp,
        ep=ep, kv_format=kv_format if indexer in ("fp8", kv_format) else f"{kv_format}+{indexer}-indexer", fraction=frac,
        weights_gib_total=total / GIB, expert_gib_total=expert / GIB, weights_gib_per_gpu=per_gpu,
        overhead_gib_per_gpu=overhead, usable_gib_per_gpu=usable, kv_budget_gib_per_gpu=pool, kv_bytes_per_token=bpt,
        fixed_bytes_per_seq=fixed, kv_pools=dp, kv_tokens=int(concurrency * asked), max_num_seqs=max_num_seqs,
        max_model_len=asked, max_model_len_fits=len_fits, concurrency_at_max_len=concurrency, weights_fit=weights_fit,
        fits=weights_fit and pool > 0 and len_fits >= asked, notes=notes, max_model_len_fits_low=len_fits_low,
    )


def rows(r: FitResult) -> list[tuple[str, str, str]]:
    """The arithmetic, one (quantity, value, how) row at a time, for `v4doctor fit`."""
    return [
        ("weights (loaded)", f"{r.weights_gib_total:.2f} GiB", f"experts {r.expert_gib_total:.2f} GiB (derived)"),
        ("weights per GPU", f"{r.weights_gib_per_gpu:.2f} GiB", f"TP={r.tp} PP={r.pp} DP={r.dp}{' +EP' if r.ep else ''}"),
        ("usable per GPU", f"{r.usable_gib_per_gpu:.2f} GiB", f"{r.fraction:g} x {r.gpu_mem_gib:.1f} GiB"),
        ("engine overhead", f"{r.overhead_gib_per_gpu:.2f} GiB", "assumed, calibrated"),
        ("KV budget per GPU", f"{r.kv_budget_gib_per_gpu:.2f} GiB", "usable - weights - overhead"),
        ("KV bytes per token", f"{r.kv_bytes_per_token:,.0f} B", f"{r.kv_format}, CSA+HCA compressed"),
        ("fixed KV per sequence", f"{r.fixed_bytes_per_seq / 1e9:.2f} GB", "window + compressor state"),
        ("KV pools", str(r.kv_pools), "one per DP rank; TP ranks replicate"),
        ("KV tokens", f"{r.kv_tokens:,}", f"at max-model-len {r.max_model_len:,}"),
        ("concurrency at max len", f"{r.concurrency_at_max_len:.2f}x", ""),
        ("largest max-model-len", f"{r.max_model_len_fits:,}", f"at {r.max_num_seqs} sequence(s)"),
        ("fits", "yes" if r.fits else "no", "weights fit" if r.weights_fit else "weights do not fit"),
    ]
