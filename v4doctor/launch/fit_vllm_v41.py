"""vLLM 0.29+'s block-outermost KV packing in general, and DeepSeek-V4.1's layer specs (pure; docs/fit.md).

`plan()` ports `v1/core/kv_cache_planning.py`: `_get_packed_kv_cache_groups` (buckets of uniform-type layers; the
balanced ones split into groups of `_approximate_gcd` pattern repeats; state buckets, i.e. per-request rings, capped at
the states one block holds), `_get_kv_cache_bytes_per_block` (the widest group) and a request's pages per group
(`FullAttentionSpec` / `SlidingWindowSpec.max_admission_blocks_per_request` / `CircularBufferSpec`: one block). V4's
five-group layout is one instance (`v4_buckets`), V4.1's another (`v41_buckets`, `models/deepseek_v41/attention.py`):

    Bucket(kind="window", block=32, window=128, pages=[19_008] * 43)   # every layer's 32-token window page (+ drafts)
    Bucket(kind="full", block=64, pages=[19_008] * 3 + [37_440] + ...)   # the kv sources' latent + indexer pages
    Bucket(kind="ring", block=8, pages=[32_768] * 3)                     # the ratio-2 sources' compressor rings
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from v4doctor.launch.fit_vllm import _approximate_gcd, largest_len

ALIGN = 576  # the V4 record's page alignment (V4.1 off SM100 keeps it)


@dataclass(frozen=True)
class Bucket:
    kind: str                 # "full" (MLA latent / indexer pages), "window" (sliding window), "ring" (CircularBufferSpec)
    block: int                # tokens a block of this bucket covers
    pages: tuple[int, ...]    # page bytes of each layer
    window: int = 0           # sliding window (kind "window")
    stride: int = 1           # the layers' block stride alignment (`get_block_stride_alignment`)


def page(states: float, entry_bytes: int, align: int = ALIGN) -> int:
    return math.ceil(states * entry_bytes / align) * align


def plan(buckets: list[Bucket]) -> tuple[int, list[tuple[Bucket, int]]]:
    """(bytes per pool block, [(bucket, groups it splits into)]) as `_get_packed_kv_cache_groups` decides them."""
    c = lambda a, b: -(-a // b)  # noqa: E731
    counts = [Counter(b.pages) for b in buckets]
    balanced = [len(set(n.values())) == 1 for n in counts]
    floor = max((max(n.values()) for n, bal in zip(counts, balanced) if bal and len(n) > 1), default=0)
    repeats = _approximate_gcd([max(n.values()) for n, bal in zip(counts, balanced) if bal], floor) if floor else None

    def n_groups(i: int) -> int:
        return c(max(counts[i].values()), repeats) if balanced[i] and repeats is not None else 1

    def widest(i: int, n: int) -> int:
        return sum(c(k, n) * p for p, k in counts[i].items())

    state = [b.kind == "ring" or (repeats is None and b.kind == "window") for b in buckets]
    anchor = max((widest(i, len(b.pages) if state[i] else n_groups(i)) for i, b in enumerate(buckets)), default=0)
    out = []
    for i, b in enumerate(buckets):
        n = n_groups(i)
        if anchor and state[i]:
            n = max(n, c(len(b.pages), max(anchor // b.pages[0], 1)))
        out.append((b, n))
    stride = math.lcm(*(b.stride for b in buckets))  # _get_kv_cache_bytes_per_block: round up to the strides' lcm
    return -(-max(widest(i, n) for i, (_, n) in enumerate(out)) // stride) * stride, out


def request_pages(bucket: Bucket, max_model_len: int, in_flight: int) -> int:
    """Pages one request holds in one group of the bucket."""
    c = lambda a, b: -(-a // b)  # noqa: E731
    if bucket.kind == "ring":
        return 1
    if bucket.kind == "window":
        return c(min(bucket.window - 1 + in_flight, max_model_len), bucket.block) + 1
    return c(max_model_len, bucket.block)


def blocks_per_request(groups: list[tuple[Bucket, int]], max_model_len: int, in_flight: int) -> int:
    return sum(n * request_pages(b, max_model_len, in_flight) for b, n in groups)


# --------------------------------------------------------------------------- the two layouts
def v4_buckets(swa_layers: int, csa: int, hca: int, indexer_bytes: int = 132) -> list[Bucket]:
    """V4 (`models/deepseek_v4/attention.py`, `compressor.py`): 64-token window pages on every layer and draft layer;
    256-token MLA latent + indexer pages; the C4 and C128 compressor states as 4- / 8-token sliding windows."""
    full = [page(64, 584)] * csa + [page(64, indexer_bytes)] * csa + [page(2, 584)] * hca
    out = [Bucket("window", 64, (page(64, 584),) * swa_layers, 128), Bucket("full", 256, tuple(full))]
    if csa:
        out.append(Bucket("window", 4, (page(4, 2048 * 4),) * csa + (page(4, 512 * 4),) * csa, 8))
    if hca:
        out.append(Bucket("window", 8, (page(8, 1024 * 4),) * hca, 128))
    return out


def v41_buckets(compress_ratios: list[int], kv_sources: list[int], *, draft_layers: int = 0, block: int = 64,
                sm100: str | None = None, indexer_bytes: int = 132, spec_tokens: int = 0) -> list[Bucket]:
    """V4.1 (`models/deepseek_v41/attention.py`, `compressor.py`): a 32-token window page on every layer and draft layer
    (`DeepseekV4SWACache(block_size=32)`); compressed latent + indexer pages only on the kv sources (`is_kv_source`),
    `block` tokens a block (64 on SM90: the V4.1 sparse-MLA and indexer kernels, else 128); a per-request compressor
    ring on the ratio-2 sources (`CompressorStateCache`: max(8, pow2 >= drafts + 2) rows x 2 x 512 fp32). Records:
    off SM100 the V4 one (584 B, 576 B alignment); on SM100 (`sm100` = the --kv-cache-dtype, `_use_v41_mxfp8_kv_record`)
    the MXFP8 one (528 B, 512 B alignment; `nvfp4_ds_mla`: 288 B compressed) with window block strides aligned to
    lcm(528, compressed)."""
    record, align = (528, 512) if sm100 else (584, ALIGN)
    compressed = 288 if sm100 == "nvfp4_ds_mla" else record
    stride = math.lcm(record, compressed) if sm100 else 1
    sources = [(i, r) for i, r in enumerate(compress_ratios) if i in kv_sources and r > 0]
    full = [page(block / r, compressed, align) for _, r in sources] + [page(block / r, indexer_bytes, align) for _, r in sources]
    ring = max(8, 1 << (spec_tokens + 1).bit_length())
    out = [Bucket("window", 32, (page(32, record, align),) * (len(compress_ratios) + draft_layers), 128, stride),
           Bucket("full", block, tuple(full))]
    rings = sum(1 for _, r in sources if r > 1)
    if rings:
        out.append(Bucket("ring", ring, (ring * 1024 * 4,) * rings))
    return out


# --------------------------------------------------------------------------- V4.1 in the fit
SM90 = ("H100", "H200", "H20", "H800")          # Hopper (GH200 and H20-3e included): 64-token V4.1 kernel blocks
SM100 = ("B200", "B300")                         # GB200 / GB300 included: the MXFP8 / NVFP4 records
SM12X = ("RTX PRO 6000", "RTX-PRO-6000", "RTX 5090", "RTX-5090", "GB10")  # 128-token blocks, the V4 record


def v41_arch(gpu_name: str) -> tuple[int, bool] | None:
    """(cache block, SM100?) the V4.1 backends agree on (`sparse_mla.py`, `DeepseekV41IndexerBackend`: 64-token kernel
    blocks on SM90, 128 elsewhere; SM100 writes the MXFP8 record); None for a GPU no rule names."""
    name = gpu_name.upper()
    if any(k in name for k in SM100):
        return 128, True
    if any(k in name for k in SM90):
        return 64, False
    return (128, False) if any(k in name for k in SM12X) else None


def max_len(groups: list[tuple[Bucket, int]], num_blocks: int, in_flight: int, ceiling: int, seqs: int = 1) -> int:
    """The longest length `seqs` requests fit in `num_blocks` (vLLM's `_estimate_max_model_len_from_groups` search)."""
    return largest_len(lambda n: seqs * blocks_per_request(groups, n, in_flight) <= num_blocks, ceiling)
