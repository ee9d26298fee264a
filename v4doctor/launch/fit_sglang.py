"""SGLang's own V4 KV pool sizing, ported from its code (pure; docs/fit.md cites each file and function).

0.5.12 (`srt/model_executor/pool_configurator.py`, DSV4PoolConfigurator._get_bytes_per_full_token):
one "full token" costs the compressed KV of every CSA/HCA layer plus a `swa_full_tokens_ratio`
share (default 0.1 for V4, `arg_groups/deepseek_v4_hook.py`) of the sliding-window pool and the
compressor ring states. It logs `DSv4 memory calculation: bytes_per_full_token=15955.85` for Flash.
0.5.23 (`kernels/ops/attention/dsv4/kv_layout.py`, the same configurator): 585-byte latent records,
864 B for C128, and with `max_running_requests` (256 by default for V4) the sliding-window pool and
C128 state move out of the per-token cost into fixed bytes ("cap mode").
The budget (`mem_cache/kv_cache_configurator.py`, "Memory profiling" line): free memory after the
weights - memory before loading x (1 - --mem-fraction-static). `--kv-cache-dtype` does not change it.
"""

from __future__ import annotations

LATENT_0512 = 584            # qk_nope + 2 x qk_rope + 8 (kv_bytes in _get_bytes_per_full_token)
INDEXER = 132                # indexer_head_dim + indexer_head_dim // 128 * 4
HEAD_DIM = 512               # qk_nope_head_dim + qk_rope_head_dim (448 + 64)
INDEXER_HEAD_DIM = 128
STATE_DTYPE = 4              # fp32 compressor state
SWA_PAGE = 128               # swa_page_size
WINDOW = 128                 # sliding_window_size
RINGS = {False: (8, 128), True: (16, 256)}  # (c4, c128) ring entries; doubled with speculative decoding
SWA_RATIO = 0.1              # default swa_full_tokens_ratio for DeepseekV4ForCausalLM
PAGE_SIZE = 256              # full_token is floored to the page size (_compute_dsv4_sizes)
LATENT_0523, C128_0523 = 585, 864
# 0.5.23 cap mode defaults (pool_configurator.py): SGLANG_SWA_EVICTION_INTERVAL 128, max_running_requests 256 for
# V4, 4 cached prefix tails per running request with the radix cache on, 2 prefill chunks in flight (overlap schedule).
EVICTION_INTERVAL, DEFAULT_MAX_RUNNING, TAILS_PER_REQUEST, CHUNKS_IN_FLIGHT = 128, 256, 4, 2
# Memory outside --mem-fraction-static's static pool that SGLang keeps free before loading (CUDA context,
# NCCL): the "Load weight begin. avail mem" gap, 95.58 - 93.61 GiB on an H20 (BBuf/SGLang-Auto-Driven-SKILLS).
PRELOAD_GAP_GIB = 1.97


def bytes_per_full_token(layers_total: int, csa: int, hca: int, *, swa_ratio: float = SWA_RATIO,
                         speculative: bool = False, version: tuple[int, ...] = (0, 5, 12)) -> float:
    """Bytes one full token costs in SGLang's V4 pools (the value its log prints)."""
    if version >= (0, 5, 23):  # layers_total: the target's layers (a stage slice of compress_ratios, no MTP entry)
        bpt = csa * (LATENT_0523 + INDEXER) / 4 + hca * C128_0523 / 128
        return bpt * (layers_total + 1) / layers_total if speculative else bpt  # the draft worker's share, as below
    c4_ring, c128_ring = RINGS[speculative]
    c4_state = 2 * 2 * HEAD_DIM * STATE_DTYPE
    c128_state = 2 * HEAD_DIM * STATE_DTYPE
    c4_indexer_state = 2 * 2 * INDEXER_HEAD_DIM * STATE_DTYPE
    bpt = (swa_ratio * LATENT_0512 * layers_total + LATENT_0512 * csa / 4 + LATENT_0512 * hca / 128
           + INDEXER * csa / 4
           + swa_ratio * (c4_ring / SWA_PAGE) * c4_state * csa
           + swa_ratio * (c128_ring / SWA_PAGE) * c128_state * hca
           + swa_ratio * (c4_ring / SWA_PAGE) * c4_indexer_state * csa)
    if speculative:  # the draft worker's share: x (target + 1 draft layer) / target
        bpt *= (layers_total + 1) / layers_total
    return bpt


# SGLang's speculative defaults for V4 (`arg_groups/speculative_hook.py`: `_auto_choose_speculative_params` -> (3, 1, 4):
# steps, EAGLE top-k, draft tokens); V4 runs EAGLE only with top-k 1 (`deepseek_v4_hook.py`).
SPEC_DEFAULTS = (3, 1, 4)


def decode_alloc(speculative: bool, steps: int | None = None, topk: int | None = None, draft_tokens: int | None = None) -> int:
    """Tokens a running request may allocate per decode step, as `compute_swa_request_cap` counts them: one page
    without speculative decoding; with it (overlap schedule, spec v2) 2 x `get_alloc_len_per_decode` =
    2 x max(steps x top-k, draft tokens) at top-k 1 (`mem_cache/allocation_sizing.py`)."""
    if not speculative:
        return PAGE_SIZE
    s, k, d = steps or SPEC_DEFAULTS[0], topk or SPEC_DEFAULTS[1], draft_tokens or SPEC_DEFAULTS[2]
    if k == 1:
        return 2 * max(s * k, d)
    return 2 * max(((PAGE_SIZE - 1) + s + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE * k, d)


# --------------------------------------------------------------------------- V4.1 (0.5.21-0.5.22)
# DeepSeek-V4.1-Flash's compress_ratios for its 40 target layers (config.json at HF revision dba1be0a, kb-audit §2:
# [0,0] + [2]*18 + [1]*20, then the 3 DSpark entries, which are not the target's). The record carries its
# kv_source_layer_ids; a record with its own `compress_ratios` wins.
V41_COMPRESS_RATIOS = [0, 0] + [2] * 18 + [1] * 20
LOW_RATIO_INDEX = 128 // 2 + 128 // 32  # fp4 indexer key of the ratio-1/2 pools (get_dsv4_indexer_bytes_per_token, fp4)


def v41_owner_layers(model: dict) -> dict[int, int] | None:
    """Layers owning compressed storage per ratio, as `collect_sources_by_ratio` counts them: every ratio-4/128 layer,
    and only the `kv_source_layer_ids` among ratio-1/2 layers. None for a record without kv_source_layer_ids."""
    sources = model.get("kv_source_layer_ids")
    if not sources:
        return None
    ratios = list(model.get("compress_ratios") or V41_COMPRESS_RATIOS)[: int(model.get("layers") or 40)]
    owners: dict[int, int] = {}
    for i, r in enumerate(ratios):
        if r in (4, 128) or (r in (1, 2) and i in sources):
            owners[r] = owners.get(r, 0) + 1
    return owners


def bytes_per_full_token_v41(owners: dict[int, int], layers_total: int, *, speculative: bool = False) -> float:
    """0.5.21 `DSV4PoolConfigurator._compressed_bytes_per_full_token` for V4.1 in cap mode (no SWA share): ratio 1/2 owners
    cost (584 B latent + 68 B fp4 indexer key) / ratio, x (L+1)/L with a draft. V4.1-Flash: 3 x 652 / 2 + 652 = 1,630 B,
    1,670.75 with DSpark: what its boot logs print."""
    bpt = sum((LATENT_0512 + LOW_RATIO_INDEX) / r * n for r, n in owners.items() if r in (1, 2))
    bpt += owners.get(4, 0) * (LATENT_0512 + INDEXER) / 4 + owners.get(128, 0) * LATENT_0512 / 128
    return bpt * (layers_total + 1) / layers_total if speculative else bpt


def cap_fixed_bytes(layers_total: int, csa: int, hca: int, *, max_running_requests: int = DEFAULT_MAX_RUNNING,
                    chunk: int = 8192, radix_cache: bool = True, attn_dp: int = 1, speculative: bool = False,
                    steps: int | None = None, topk: int | None = None, draft_tokens: int | None = None,
                    latent: int = LATENT_0523, c2_layers: int = 0) -> float:
    """0.5.21+ cap mode: the sliding-window pool sized from the request cap plus cached prefix tails
    (`compute_swa_request_cap`, `_resolve_swa_prefix_tails`, `_get_bytes_per_swa_token`), the C128 state rows and
    (V4.1) the ratio-2 pair-state rows of every request slot (`_get_c128_state_fixed_bytes`, `_get_c2_state_fixed_bytes`),
    fp32 state; per attention-DP worker. With speculative decoding (`DSV4PoolConfigurator.__init__`): the eviction
    interval counts once per draft token, the decode allocation is `decode_alloc`, the rings double (16 / 256;
    ratio 2: the power of two above 2 + drafts: `get_compress_state_ring_size`) and the SWA bytes grow by the draft
    worker's (L + 1) / L. `latent`: 585 B in 0.5.23 (kb-audit §4, its page padding not read), 584 in 0.5.21."""
    drafts = (draft_tokens or SPEC_DEFAULTS[2]) if speculative else 1
    per_request = WINDOW + EVICTION_INTERVAL * drafts + PAGE_SIZE + decode_alloc(speculative, steps, topk, draft_tokens)
    reqs = max(1, max_running_requests // max(attn_dp, 1))
    cap = per_request * reqs + CHUNKS_IN_FLIGHT * chunk + PAGE_SIZE
    tails = TAILS_PER_REQUEST * reqs if radix_cache else 0
    swa_tokens = -(-(cap + tails * (WINDOW + PAGE_SIZE)) // PAGE_SIZE) * PAGE_SIZE
    c4_ring = RINGS[speculative][0]
    per_swa_token = latent * layers_total + c4_ring / PAGE_SIZE * (2 * 2 * HEAD_DIM + 2 * 2 * INDEXER_HEAD_DIM) * STATE_DTYPE * csa
    if speculative:
        per_swa_token *= (layers_total + 1) / layers_total
    slots = reqs + 1
    c128_ring = RINGS[speculative][1]
    rows = -(-(slots * c128_ring + c128_ring + 1) // 128) * 128
    c2_ring = 1 << (drafts + 1).bit_length() if speculative else 2
    c2_rows = -(-(slots * c2_ring + c2_ring + 1) // 2) * 2
    return swa_tokens * per_swa_token + (rows * hca + c2_rows * c2_layers) * 2 * HEAD_DIM * STATE_DTYPE


def fixed_bytes(layers_total: int, csa: int, hca: int, version: tuple[int, ...], **cap) -> float:
    """Bytes taken off the pool before tokens: 0 before 0.5.23 for V4 (ratio sizing as ported from 0.5.12), the
    cap-mode pools from it."""
    return 0.0 if version < (0, 5, 23) else cap_fixed_bytes(layers_total, csa, hca, **cap)


# --------------------------------------------------------------------------- weights SGLang replicates (0.5.12)
# srt/models/deepseek_v4.py and srt/layers/attention/dsv4/{compressor,indexer}.py: every attention-TP rank loads
# wq_a and wkv whole (ReplicatedLinear, FP8 as stored), each layer's compressor wkv_gate (ReplicatedLinear, bf16:
# hidden x 2 x coff x 512, coff 2 for C4, 1 for C128), the C4 indexer's wq_b (q_lora x 64 x 128), weights_proj
# (hidden x 64) and its compressor (hidden x 2 x 2 x 128), all bf16, and the fp32 mHC mixers (2 x (2 + 4) x 4 x
# 4 x hidden per layer). wo_a is a ColumnParallelLinear loaded in bf16 unless SGLANG_OPT_FP8_WO_A_GEMM, which
# server_args.py turns off below sm100 (Hopper and older). Attention shapes from the configs (q_lora_rank,
# num_attention_heads, o_groups, o_lora_rank; index_n_heads 64 x index_head_dim 128; hc_mult 4):
ATTN_SHAPES = {4096: (1024, 64, 8, 1024), 7168: (1536, 128, 16, 1024)}  # hidden -> (q_lora, heads, o_groups, o_lora)
IDX_HEADS, HC_MULT = 64, 4
BLACKWELL_NAMES = ("B200", "B300", "GB200", "GB300", "GB10", "RTX PRO 6000", "RTX 5090", "BLACKWELL")


def replicated_bytes(hidden: int, layers: int, csa: int, hca: int) -> float:
    """Bytes every attention-TP rank loads whole (ReplicatedLinear + fp32 mixers), per the 0.5.12 model code."""
    q_lora = ATTN_SHAPES[hidden][0]
    attn = layers * hidden * (q_lora + HEAD_DIM)  # wq_a + wkv, fp8
    comp = 2 * (csa * hidden * 2 * 2 * HEAD_DIM + hca * hidden * 2 * HEAD_DIM)  # wkv_gate, bf16
    idx = 2 * csa * (q_lora * IDX_HEADS * INDEXER_HEAD_DIM + hidden * IDX_HEADS + hidden * 2 * 2 * INDEXER_HEAD_DIM)
    hc = 4 * layers * 2 * (2 + HC_MULT) * HC_MULT * HC_MULT * hidden
    return float(attn + comp + idx + hc)


def weights_extra_gib(hidden: int | None, layers: int, csa: int, hca: int, *, attn_tp: int, pp: int = 1,
                      gpu_name: str = "", rocm: bool = False) -> float:
    """GiB per GPU SGLang loads beyond an even split of the checkpoint: the replicated tensors' other (attn_tp - 1)
    shares, and wo_a's second byte where it is upcast to bf16 (CUDA below sm100)."""
    if hidden not in ATTN_SHAPES or not csa:
        return 0.0
    _, heads, groups, o_lora = ATTN_SHAPES[hidden]
    attn_tp = max(attn_tp, 1)
    extra = replicated_bytes(hidden, layers, csa, hca) * (1 - 1 / attn_tp)
    if not rocm and not any(n in gpu_name.upper() for n in BLACKWELL_NAMES):
        extra += layers * (heads * HEAD_DIM // groups) * (groups * o_lora) / attn_tp
    return extra / max(pp, 1) / (1 << 30)


def pool_gib(gpu_mem_gib: float, weights_gib: float, fraction: float) -> float:
    """available_gpu_memory - total_gpu_memory x (1 - mem_fraction_static), both read before/after loading."""
    before = gpu_mem_gib - PRELOAD_GAP_GIB
    return before - weights_gib - before * (1 - fraction)


def full_tokens(pool_bytes: float, bpt: float, fixed: float = 0.0) -> int:
    """max_total_num_tokens: (pool - fixed) / bytes per full token, floored to the page."""
    return int(max(pool_bytes - fixed, 0) / bpt) // PAGE_SIZE * PAGE_SIZE


def default_fraction(gpu_mem_gib: float, *, tp: int = 1, pp: int = 1, dp: int = 1, dp_attention: bool = False,
                     speculative: bool | str | None = False, version: tuple[int, ...] | None = None) -> float:
    """--mem-fraction-static when not given (server_args.py `_handle_gpu_memory_settings`, 0.5.12): GPU memory less a
    reserve for activations and CUDA graphs sized by the chunked-prefill size and CUDA-graph batch by memory tier.
    Speculative decoding reserves 4 GiB more for the draft model and its graphs (6 GiB for STANDALONE, none for
    NGRAM) up to 0.5.22; 0.5.23's `arg_groups/memory_hook.py` reserves nothing for it."""
    mib = gpu_mem_gib * 1024
    tiers = ((20, 2048, 8, 8), (35, 2048, 24, 80), (60, 4096, 32, 160), (90, 8192, 256, 512), (160, 8192, 256, 512))
    chunk, graph_bs = 16384, 512
    for limit, c, small_tp, big_tp in tiers:
        if mib < limit * 1024:
            chunk, graph_bs = c, (small_tp if tp < 4 else big_tp)
            break
    reserved = 512 + max(chunk, 2048) * 1.5 + graph_bs * 2 + tp * pp / 8 * 1024
    if dp_attention:
        reserved += graph_bs * dp * 3 + (graph_bs * dp * 1.5 if graph_bs > 300 else 0)
    reserved += 1.5 * 1024  # piecewise CUDA graphs on the MLA backend
    if mib > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    method = ("eagle" if speculative is True else str(speculative).lower()) if speculative else ""
    if method and method != "ngram" and (version is None or version < (0, 5, 23)):
        reserved += (6 if method == "standalone" else 4) * 1024
    return round((mib - reserved) / mib, 3)
