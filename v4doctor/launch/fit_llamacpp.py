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
# Compute buffer per GPU (CUDA0 compute buffer size) at the default -ub 512: an assumption of 2 GiB,
# plus the CUDA context, until a deepseek4 log with the line is in fixtures/fit/.
COMPUTE_GIB = 2.0
CONTEXT_GIB = 0.5


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
