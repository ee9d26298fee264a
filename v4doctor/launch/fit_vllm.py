"""vLLM's own V4 KV accounting, ported from its code (pure; docs/fit.md cites each file and function).

vLLM 0.20-0.33 give V4 five KV groups that share one block pool (`v1/core/kv_cache_planning.py`):
256-token compressed MLA + indexer blocks, two 64-token sliding-window groups, a 4-token C4
compressor-state group and an 8-token C128 compressor-state group. A pool block costs the bytes of
one page of every CSA/HCA layer (`_get_kv_cache_bytes_per_block`); each page is rounded up to the
576-byte FlashMLA stride (`_apply_alignment_padding`, `kv_cache_interface.py`). A request holds the
blocks its full-context group needs plus the sliding-window and state blocks sized by the tokens in
flight (`SlidingWindowSpec.max_admission_blocks_per_request`, `VllmConfig.max_in_flight_tokens`).
The printed "GPU KV cache size: N tokens" is int(max concurrency x max_model_len)
(`kv_cache_utils.get_kv_cache_capacity`).

    per block (Flash, fp8 indexer) = 21 x (37,440 + 8,640) + 20 x 1,728 = 1,002,240 B
"""

from __future__ import annotations

import math

BLOCK = 256          # V4 block size vLLM picks ("Setting kv cache block size to 256 for DEEPSEEK_SPARSE_SWA")
ALIGN = 576          # FlashMLA page stride for fp8_ds_mla (attention.py: alignment=576)
LATENT = 584         # 448 B NoPE + 128 B RoPE + 8 B scale per stored entry (MLAAttentionSpec.real_page_size_bytes)
INDEXER = {"fp8": 132, "mxfp4": 68}  # 128 fp8 + 4 B scale; MXFP4: 64 packed + 4 UE8M0 (DeepseekV4Indexer)
WINDOW = 128         # sliding window of every V4 layer (config.sliding_window)
SWA_BLOCK, C4_STATE_BLOCK, C128_STATE_BLOCK = 64, 4, 8
# vLLM <= 0.29 packs one more C4 latent page into a block (1,039,680 B for Flash; kb-audit §3, read in 0.26).
OLD_EXTRA_PAGE = 37_440
# Profiled activation peak and CUDA graphs, per GPU, at 8,192 batched tokens (assumption, calibrated in
# docs/fit.md): vLLM subtracts what its dummy forward pass peaked at (gpu_worker.determine_available_memory).
OVERHEAD_GIB = 8.0
OVERHEAD_PER_BATCHED_TOKEN_GIB = 3.91 / (8224 - 2048)  # MiaAI-Lab/DeepSeek-v4-Flash-One-DGX-Spark#4: -3.91 GiB peak for 8224 -> 2048


def _page(entries: float, entry_bytes: int) -> int:
    return math.ceil(entries * entry_bytes / ALIGN) * ALIGN


def bytes_per_block(csa: int, hca: int, indexer: str = "fp8", version: tuple[int, ...] | None = None) -> int:
    """Bytes of one pool block: every CSA layer's latent + indexer page, every HCA layer's latent page."""
    b = csa * (_page(BLOCK / 4, LATENT) + _page(BLOCK / 4, INDEXER.get(indexer, 132))) + hca * _page(BLOCK / 128, LATENT)
    if version is not None and version < (0, 30):
        b += OLD_EXTRA_PAGE
    return b


def in_flight_tokens(max_num_batched_tokens: int, *, async_scheduling: bool = True, pp: int = 1) -> int:
    """VllmConfig.max_in_flight_tokens: batched tokens x batches in flight (2 with async scheduling, else PP)."""
    batches = 2 if async_scheduling and pp <= 1 else max(pp, 1)
    return max_num_batched_tokens * batches


def blocks_per_request(max_model_len: int, in_flight: int) -> int:
    """Pool blocks one request holds: full-context blocks + 2 sliding-window groups + C4 and C128 state."""
    c = lambda a, b: -(-a // b)  # noqa: E731 - cdiv as vLLM spells it
    window = min(WINDOW - 1 + in_flight, max_model_len)
    return (c(max_model_len, BLOCK) + 2 * (c(window, SWA_BLOCK) + 1)
            + (c(min(2 * C4_STATE_BLOCK - 1 + in_flight, max_model_len), C4_STATE_BLOCK) + 1)
            + (c(window, C128_STATE_BLOCK) + 1))


def capacity(pool_bytes: float, block_bytes: int, max_model_len: int, in_flight: int) -> tuple[int, float, int]:
    """(num_blocks, max concurrency, printed "GPU KV cache size" tokens) for one KV pool."""
    num_blocks = int(max(pool_bytes, 0) // block_bytes)
    concurrency = num_blocks / blocks_per_request(max_model_len, in_flight)
    return num_blocks, concurrency, int(concurrency * max_model_len)


def max_len_for(num_blocks: int, in_flight: int, ceiling: int, seqs: int = 1) -> int:
    """The largest length `seqs` requests fit in `num_blocks` (seqs=1: vLLM's estimate_max_model_len search)."""
    lo, hi = 0, ceiling
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if seqs * blocks_per_request(mid, in_flight) <= num_blocks:
            lo = mid
        else:
            hi = mid - 1
    return lo


def default_batched_tokens(gpu_mem_gib: float, gpu_name: str = "", *, api_server: bool = True) -> int:
    """EngineArgs' default --max-num-batched-tokens by device memory (engine/arg_utils.py, 0.33)."""
    name = gpu_name.lower()
    if gpu_mem_gib >= 160:
        return 16384
    if gpu_mem_gib >= 70 and "a100" not in name and "gb10" not in name:
        return 8192 if api_server else 16384
    return 2048 if api_server else 8192


def overhead_gib(max_num_batched_tokens: int) -> float:
    """Activation peak + CUDA graphs + NCCL per GPU: 8 GiB at 8,192 batched tokens, ~0.63 GiB per 1,000 more or fewer."""
    return max(OVERHEAD_GIB + (max_num_batched_tokens - 8192) * OVERHEAD_PER_BATCHED_TOKEN_GIB, 2.0)
