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

vLLM 0.22-0.26 (read in the 0.22, 0.24, 0.25 and 0.26 wheels) pack the groups differently
(`v1/core/kv_cache_utils.py`): `group_and_unify_kv_cache_specs` makes four uniform-type groups (the MLA
latent + indexer pages, the 64-token sliding-window pages of every layer, the C4 and C128 compressor
states), `_get_kv_cache_groups_uniform_groups` picks the layer tuples per group with `_approximate_gcd`
(lower bound: the MLA group's 21 tuples for Flash; 22 wins because the 43 sliding-window layers pad to 44)
and pads the state pages up to the next MLA page size, and `_get_kv_cache_config_packed` sizes a block
as the sum over page sizes of (page x the most slots any group uses): 22 x 37,440 + 21 x 8,640 +
20 x 1,728 = 1,039,680 B for Flash. Those versions count a request's blocks by bytes
(`get_max_concurrency_for_kv_cache_config`) and check a request against the layer-tuple layout
(`_max_memory_usage_bytes_from_groups`: every group's pages x 22 tuples x 47,808 B). Before 0.26 the
sliding-window reservation is one `--max-num-batched-tokens` (`SlidingWindowSpec.max_memory_usage_bytes`);
0.26 added `VllmConfig.max_in_flight_tokens` (x 2 batches with async scheduling, its default).
"""

from __future__ import annotations

import functools
import math

BLOCK = 256          # V4 block size vLLM picks ("Setting kv cache block size to 256 for DEEPSEEK_SPARSE_SWA")
ALIGN = 576          # FlashMLA page stride for fp8_ds_mla (attention.py: alignment=576)
LATENT = 584         # 448 B NoPE + 128 B RoPE + 8 B scale per stored entry (MLAAttentionSpec.real_page_size_bytes)
INDEXER = {"fp8": 132, "mxfp4": 68}  # 128 fp8 + 4 B scale; MXFP4: 64 packed + 4 UE8M0 (DeepseekV4Indexer)
WINDOW = 128         # sliding window of every V4 layer (config.sliding_window)
SWA_BLOCK, C4_STATE_BLOCK, C128_STATE_BLOCK = 64, 4, 8
# vLLM 0.29 (and a call without a layer count) packs one more window page into a block (kb-audit §3); 0.22-0.26: packed_layout().
OLD_EXTRA_PAGE = 37_440
# Profiled activation peak and CUDA graphs, per GPU, at 8,192 batched tokens (assumption, calibrated in
# docs/fit.md): vLLM subtracts what its dummy forward pass peaked at (gpu_worker.determine_available_memory).
OVERHEAD_GIB = 8.0
OVERHEAD_PER_BATCHED_TOKEN_GIB = 3.91 / (8224 - 2048)  # MiaAI-Lab/DeepSeek-v4-Flash-One-DGX-Spark#4: -3.91 GiB peak for 8224 -> 2048


def _page(entries: float, entry_bytes: int) -> int:
    return math.ceil(entries * entry_bytes / ALIGN) * ALIGN


def bytes_per_block(csa: int, hca: int, indexer: str = "fp8", version: tuple[int, ...] | None = None,
                    layers: int | None = None, swa_layers: int | None = None) -> int:
    """Bytes of one pool block: every CSA layer's latent + indexer page, every HCA layer's latent page
    (0.30+), or a wider group where one is (`packed_groups`, given `swa_layers`: target + draft layers);
    vLLM < 0.30 packs more (`packed_layout`, or the audit's one extra C4 page without a layer count)."""
    if version is not None and version < OLD_PACKING and layers:
        return packed_layout(swa_layers or layers, csa, hca, indexer)[1]
    b = csa * (_page(BLOCK / 4, LATENT) + _page(BLOCK / 4, INDEXER.get(indexer, 132))) + hca * _page(BLOCK / 128, LATENT)
    if swa_layers:
        b = max(b, packed_groups(swa_layers, csa, hca, indexer)[0])
    if version is not None and version < (0, 30):
        b += OLD_EXTRA_PAGE
    return b


# --------------------------------------------------------------------------- vLLM 0.29+'s packing (read in 0.33.0)
@functools.lru_cache(maxsize=256)  # pure, and the planner asks the same few shapes hundreds of times
def packed_groups(swa_layers: int, csa: int, hca: int, indexer: str = "fp8") -> tuple[int, tuple[int, int, int]]:
    """(widest group's bytes per block, (sliding-window groups, C4-state groups, C128-state groups)) as
    `v1/core/kv_cache_planning.py`: `_get_packed_kv_cache_groups` lays V4 out (the general port: `fit_vllm_v41.plan`).
    Four buckets: the 64-token window pages of every layer, drafts included (balanced, one page size); the MLA latent +
    indexer pages (one group; balanced only when CSA = HCA); the C4 compressor + indexer-compressor states (balanced,
    two sizes: their count is the floor on repeats) and the C128 states. Repeats per group = `_approximate_gcd` of the
    balanced buckets' layer counts; a balanced bucket splits into cdiv(layers, repeats) groups. Flash: window layers 43
    -> 22 + 21, 44 (MTP) -> 22 + 22, 46 (DSpark) -> 23 + 23; the MLA group (1,002,240 B) stays the widest."""
    from v4doctor.launch import fit_vllm_v41 as packing

    block, groups = packing.plan(packing.v4_buckets(swa_layers, csa, hca, INDEXER.get(indexer, 132)))
    n = [g for _, g in groups]
    return block, (n[0], n[2] if csa else 0, n[-1] if hca else 0)


# --------------------------------------------------------------------------- vLLM 0.22-0.26's packing
OLD_PACKING = (0, 29)  # 0.29 replaced the tuple packing and the byte-counted concurrency (read in 0.29.0)
STATE_C4, STATE_C4_INDEXER, STATE_C128 = 4 * 2048 * 4, 4 * 512 * 4, 8 * 1024 * 4  # float32 compressor states (compressor.py)


def _approximate_gcd(values: list[int], lower_bound: int) -> int:
    """kv_cache_utils._approximate_gcd: the tuple count in [lower_bound, max] with the least padding (ties: larger)."""
    best_d, best_pad = lower_bound, None
    for d in range(lower_bound, max(values) + 1):
        pad = sum((d - x % d) % d for x in values)
        if best_pad is None or pad < best_pad or (pad == best_pad and d > best_d):
            best_d, best_pad = d, pad
    return best_d


def packed_layout(layers: int, csa: int, hca: int, indexer: str = "fp8") -> tuple[int, int, list[tuple[str, list[int]]]]:
    """(layer tuples, bytes per pool block, [(kind, page sizes of the group)]) as vLLM 0.22-0.26 lay V4 out.

    Groups (`group_and_unify_kv_cache_specs`): "full" = MLA latent + indexer pages; "swa" = every layer's
    64-token window page; "c4"/"c128" = compressor states (block 4 / 8). `_get_kv_cache_groups_uniform_groups`
    pads each state page up to the next MLA page size and splits a group into ceil(layers / tuples) groups;
    `_get_kv_cache_config_packed` / `_bucket_layers_by_page_size` size the block."""
    from collections import Counter
    full = [_page(BLOCK / 4, LATENT)] * csa + [_page(BLOCK / 4, INDEXER.get(indexer, 132))] * csa + [_page(BLOCK / 128, LATENT)] * hca
    raw = {"swa": [_page(SWA_BLOCK, LATENT)] * layers,
           "c4": [_page(1, STATE_C4)] * csa + [_page(1, STATE_C4_INDEXER)] * csa, "c128": [_page(1, STATE_C128)] * hca}
    raw = {k: v for k, v in raw.items() if v}
    most = lambda pages: Counter(pages).most_common(1)[0][1]  # noqa: E731 - get_num_layer_tuples
    tuples_per_group = [most(full)] + [most(v) for v in raw.values()]
    n = _approximate_gcd(tuples_per_group, tuples_per_group[0])
    sizes = sorted(set(full))
    groups: list[tuple[str, list[int]]] = [("full", full)]
    for kind, pages in raw.items():
        padded = Counter(min(x for x in sizes if x >= p) for p in pages)
        per_size = next(iter(padded.values()))
        parts = -(-per_size // n)
        for i in range(parts):
            k = len(range(i, per_size, parts))
            groups.append((kind, [p for p in padded for _ in range(k)]))
    slots: dict[int, int] = {}
    for _, pages in groups:
        for p, c in Counter(pages).items():
            slots[p] = max(slots.get(p, 0), c)
    return n, sum(p * c for p, c in slots.items()), groups


def _group_pages(kind: str, max_model_len: int, in_flight: int) -> int:
    """Pages one request holds in a group (`max_memory_usage_pages`: sliding-window admission cap + 1)."""
    c = lambda a, b: -(-a // b)  # noqa: E731
    if kind == "full":
        return c(max_model_len, BLOCK)
    window = min(WINDOW - 1 + in_flight, max_model_len)
    if kind == "swa":
        return c(window, SWA_BLOCK) + 1
    if kind == "c4":
        return c(min(2 * C4_STATE_BLOCK - 1 + in_flight, max_model_len), C4_STATE_BLOCK) + 1
    return c(window, C128_STATE_BLOCK) + 1


def blocks_per_request_packed(layout: tuple, max_model_len: int, in_flight: int) -> int:
    """0.22-0.26 `get_max_concurrency_for_kv_cache_config`: a request's bytes over the MLA group's page bytes, rounded up."""
    _, _, groups = layout
    need = sum(_group_pages(kind, max_model_len, in_flight) * sum(pages) for kind, pages in groups)
    return -(-need // sum(groups[0][1]))


def needed_bytes_packed(layout: tuple, max_model_len: int, in_flight: int) -> int:
    """0.22-0.26 `_max_memory_usage_bytes_from_groups`: every group's pages x the tuples x one tuple's bytes
    (the 'X GiB KV cache is needed' check and the estimated max model length search)."""
    n, _, groups = layout
    tuple_bytes = sum(set(groups[0][1]))
    return sum(n * _group_pages(kind, max_model_len, in_flight) * tuple_bytes for kind, _ in groups)


def max_len_packed(layout: tuple, pool_bytes: float, in_flight: int, ceiling: int) -> int:
    """0.22-0.26 `_estimate_max_model_len_from_groups`: the longest request whose needed bytes fit the pool."""
    return largest_len(lambda n: needed_bytes_packed(layout, n, in_flight) <= pool_bytes, ceiling)


def in_flight_tokens(max_num_batched_tokens: int, *, async_scheduling: bool | None = None, pp: int = 1,
                     version: tuple[int, ...] | None = None) -> int:
    """Tokens the sliding-window reservation covers. vLLM < 0.26: one `--max-num-batched-tokens`
    (`SlidingWindowSpec.max_memory_usage_bytes`). 0.26+: `VllmConfig.max_in_flight_tokens` = batched tokens x
    `max_concurrent_batches` (2 with async scheduling and PP 1, else PP). Async scheduling is on unless turned
    off (`VllmConfig.__post_init__` turns it off only for pooling models, speculative methods other than
    EAGLE/MTP/ngram_gpu/DSpark, executors without support such as Ray's, and ROCm DeepEP DBO).
    v4doctor counts the second batch only when the launch turns async scheduling on (`async_scheduling=True`):
    a deviation from 0.26+'s default, kept because one of the two 0.26 logs matches one batch and the planner
    sizes its 0.33 commands this way (docs/fit.md, "Batches in flight")."""
    if version is not None and version < (0, 26):
        return max_num_batched_tokens
    on = async_scheduling is True
    batches = 2 if on and pp <= 1 else max(pp, 1)
    return max_num_batched_tokens * batches


GROUPS = (2, 1, 1)  # (sliding-window, C4-state, C128-state) groups of Flash and Pro, with or without MTP/DSpark drafts


def blocks_per_request(max_model_len: int, in_flight: int, groups: tuple[int, int, int] = GROUPS) -> int:
    """Pool blocks one request holds: full-context blocks + each sliding-window group + C4 and C128 state groups."""
    c = lambda a, b: -(-a // b)  # noqa: E731 - cdiv as vLLM spells it
    window = min(WINDOW - 1 + in_flight, max_model_len)
    return (c(max_model_len, BLOCK) + groups[0] * (c(window, SWA_BLOCK) + 1)
            + groups[1] * (c(min(2 * C4_STATE_BLOCK - 1 + in_flight, max_model_len), C4_STATE_BLOCK) + 1)
            + groups[2] * (c(window, C128_STATE_BLOCK) + 1))


def capacity(pool_bytes: float, block_bytes: int, max_model_len: int, in_flight: int,
             groups: tuple[int, int, int] = GROUPS) -> tuple[int, float, int]:
    """(num_blocks, max concurrency, printed "GPU KV cache size" tokens) for one KV pool."""
    num_blocks = int(max(pool_bytes, 0) // block_bytes)
    concurrency = num_blocks / blocks_per_request(max_model_len, in_flight, groups)
    return num_blocks, concurrency, int(concurrency * max_model_len)


def largest_len(fits, ceiling: int) -> int:
    """The largest length in [0, ceiling] for which `fits(length)` holds (binary search; `fits` is monotone)."""
    lo, hi = 0, ceiling
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def max_len_for(num_blocks: int, in_flight: int, ceiling: int, seqs: int = 1, groups: tuple[int, int, int] = GROUPS) -> int:
    """The largest length `seqs` requests fit in `num_blocks` (seqs=1: vLLM's estimate_max_model_len search)."""
    return largest_len(lambda n: seqs * blocks_per_request(n, in_flight, groups) <= num_blocks, ceiling)


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
