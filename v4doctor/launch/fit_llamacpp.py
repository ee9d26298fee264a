"""llama.cpp's `deepseek4` memory: KV per token, compute buffers, and CPU expert offload (pure).

llama.cpp keeps V4's caches in `src/llama-kv-cache-dsv4.cpp` (PR #24162): a sliding-window cache of
128 cells on every layer, a CSA cache of ctx/4 cells (latent + indexer key) and an HCA cache of
ctx/128 cells, at `--cache-type-k` (f16 by default: 1,024 B per latent, 256 B per indexer key).
`--n-cpu-moe N` keeps the routed experts of the first N layers in RAM; `--n-gpu-layers` below the
layer count keeps whole layers there. What stays on the GPUs is split evenly (`--split-mode layer`).

    Flash, f16: 21 x (1,024 + 256) / 4 + 20 x 1,024 / 128 = 6,880 B per token (6.72 GiB at 1M)
"""

from __future__ import annotations

LATENT = {"f16": 1024, "bf16": 1024, "q8_0": 544, "fp8": 584}
INDEXER = {"f16": 256, "bf16": 256, "q8_0": 136, "fp8": 132}
WINDOW = 128
CONTEXT_GIB = 0.5  # CUDA context per GPU (an assumption: llama.cpp prints no line for it)
MIB = 1 << 20
# The compute buffer per GPU (`CUDA0 compute buffer size`): ggml's scheduler reserves the worst-case graph at
# n_ctx and n_ubatch (llama-context.cpp graph_reserve). For `deepseek4` one term grows with the context
# (src/models/deepseek4.cpp, build_lid_top_k, unfused path): the lightning indexer's scores
# lid_kq = mul_mat(indexer_k, indexer_q), [ctx/4, n_ubatch, 64 indexer heads] in f32, and its
# cont(permute) copy, alive together: 2 x ctx/4 x ub x 64 x 4 B = 64 KiB per context token at -ub 512
# (64 GiB at 1M). Without flash attention the attention scores of a CSA layer, [window + ctx/4, ub,
# n_head] f32, are materialised too. The rest (activations, logits) is fitted on the one public figure
# that isolates it: unsloth#6940's 67,094.60 MiB at 1M and -ub 512 minus the 65,536 MiB indexer term.
INDEXER_HEADS = 64   # C4Indexer: 64 heads of 128 (V4 Flash and Pro config.json, SGLang indexer.py)
CSA_RATIO = 4
BASE_MIB_UB512 = 1558.60  # 67,094.60 - 65,536 (unsloth/unsloth#6940, UD-Q4_K_XL, ub 512, 1M); scaled with -ub
COMPUTE_GIB = BASE_MIB_UB512 / 1024  # the part of the compute buffer that does not grow with the context


def kv_bytes_per_token(csa: int, hca: int, cache_type: str = "f16") -> float:
    lat, idx = LATENT.get(cache_type, 1024), INDEXER.get(cache_type, 256)
    return csa * (lat + idx) / 4 + hca * lat / 128


N_UBATCH = 512  # llama.cpp's default -ub
N_PAD = 256      # the dsv4 cache pads cell counts to 256 (llama.cpp#27680's log: "SWA KV cache, size = 4352 cells")


def swa_cells(ctx: int, parallel: int = 1, n_ubatch: int = N_UBATCH) -> int:
    """Raw sliding-window cells (llama-kv-cache-iswa.cpp): min(ctx, PAD(n_swa x n_seq_max + n_ubatch, n_pad))."""
    need = WINDOW * max(parallel, 1) + n_ubatch
    return min(ctx, -(-need // N_PAD) * N_PAD)


def window_bytes(layers: int, ctx: int, parallel: int = 1, cache_type: str = "f16", n_ubatch: int = N_UBATCH) -> float:
    """The raw window cache: every layer, K only (MLA latent), e.g. 43 x 4,352 cells x 1,024 B = 182.75 MiB (#27680)."""
    return layers * swa_cells(ctx, parallel, n_ubatch) * LATENT.get(cache_type, 1024)


def compute_slope(n_ubatch: int = 512, flash_attn: bool = True, n_head: int = 64, csa: bool = True) -> float:
    """Compute-buffer bytes per context token per GPU: the indexer's two f32 score tensors (64 KiB at -ub 512)
    and, without flash attention, a CSA layer's f32 attention scores over the compressed keys."""
    if not csa:
        return 0.0 if flash_attn else n_ubatch * n_head * 4 / 128
    return 2 * n_ubatch * INDEXER_HEADS * 4 / CSA_RATIO + (0.0 if flash_attn else n_ubatch * n_head * 4 / CSA_RATIO)


def compute_fixed(n_ubatch: int = 512, flash_attn: bool = True, n_head: int = 64, ctx: int = 0, parallel: int = 1) -> float:
    """The part that does not grow with the context: the fitted rest (scaled with -ub) and, without flash attention,
    the scores over the sliding-window cells."""
    raw = 0.0 if flash_attn else swa_cells(ctx, parallel, n_ubatch) * n_ubatch * n_head * 4
    return BASE_MIB_UB512 * MIB * n_ubatch / 512 + raw


def compute_buffer_bytes(ctx: int, *, n_ubatch: int = 512, flash_attn: bool = True, n_head: int = 64, csa: bool = True,
                         parallel: int = 1) -> float:
    """`CUDA0 compute buffer size` for a context of `ctx` cells, e.g. 1,048,576 at -ub 512 with -fa on:
    1,558.60 + 2 x 262,144 x 512 x 64 x 4 B = 67,094.60 MiB (unsloth#6940 printed 67,094.60)."""
    return compute_fixed(n_ubatch, flash_attn, n_head, ctx, parallel) + compute_slope(n_ubatch, flash_attn, n_head, csa) * ctx


def kv_bytes(csa: int, hca: int, layers: int, ctx: int, parallel: int = 1, cache_type: str = "f16") -> float:
    """The whole KV cache: compressed caches for `ctx` cells + the raw sliding-window cache."""
    return kv_bytes_per_token(csa, hca, cache_type) * ctx + window_bytes(layers, ctx, parallel, cache_type)


def gpu_bytes(total: float, expert: float, layers: int, *, n_cpu_moe: int = 0, n_gpu_layers: int | None = None) -> float:
    """Weight bytes on the GPUs: all but the experts of the first `n_cpu_moe` layers (and layers kept on CPU)."""
    per_layer_expert = expert / layers if layers else 0.0
    on_gpu = total - per_layer_expert * min(max(n_cpu_moe, 0), layers)
    if n_gpu_layers is not None and 0 <= n_gpu_layers < layers:
        on_gpu *= n_gpu_layers / layers
    return max(on_gpu, 0.0)


def n_cpu_moe_to_fit(total: float, expert: float, layers: int, vram_bytes: float, reserve: float) -> int | None:
    """The fewest --n-cpu-moe layers that leave the rest within `vram_bytes - reserve`; None if none does."""
    for n in range(layers + 1):
        if gpu_bytes(total, expert, layers, n_cpu_moe=n) <= vram_bytes - reserve:
            return n
    return None
