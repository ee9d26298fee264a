"""The KV side of the memory fit (pure): V4's stored bytes per token and each engine's pool, as
v4doctor.launch.fit calls them. One function per engine, each returning the pool's figures:

    {"overhead", "pool", "in_flight", "bpt", "fixed", "blocks", "printed", "concurrency", "est",
     "len_fits", "len_fits_low", "notes"}
"""

from __future__ import annotations

import math

from v4doctor.launch import fit_llamacpp, fit_sglang, fit_vllm, fit_vllm_v41

GIB = 1 << 30
BLOCK = fit_vllm.BLOCK  # vLLM block size for V4 (chosen by the engine since 0.20)
ALIGN = fit_vllm.ALIGN  # vLLM pads each KV page to the 576-byte TMA stride (review §5)
# Bytes per stored entry by KV format: (latent, indexer key); review §5 / v4-facts §5.1.
LATENT_BYTES = {"fp8": 584, "bf16": 1024, "f16": 1024, "q8_0": 544}
INDEXER_BYTES = {"fp8": 132, "mxfp4": 68, "bf16": 256, "f16": 256, "q8_0": 136}
# Context-independent KV reservation per sequence in vLLM, for callers of fixed_bytes_per_seq only;
# the fit itself counts vLLM's blocks per request (fit_vllm.blocks_per_request).
VLLM_FIXED_PER_SEQ_FLASH = 3.2e9
# The lowest overhead an engine's own log implies, for verdicts that must not cry wolf (V4D302 errors only
# below it): H20 TP=2, vLLM 0.26.0, Flash (github.com/vllm-project/vllm/issues/51041): 0.92 x 95.58 GiB
# - 72.73 GiB of weights - the printed 7.01 GiB KV pool = 8.2 GiB at 8,192 batched tokens.
OVERHEAD_FLOOR_GIB = {"vllm": 8.0}


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


def _per_token_only(kvm: dict, name: str) -> float:
    """A record without CSA/HCA counts (V4.1) carries only a published bytes-per-token figure."""
    bpt = kvm.get("kv_bytes_per_token")
    if not bpt:
        raise ValueError(f"{name}: the knowledge base has no CSA/HCA layer counts or KV bytes per token for its KV cache")
    return float(bpt)


def _vllm_pool(kvm: dict, p: dict) -> dict:
    batched = p["max_num_batched_tokens"] or fit_vllm.default_batched_tokens(p["gpu_mem_gib"], p["gpu_name"])
    # vLLM's own rule (fit_vllm.in_flight_tokens): one batch before 0.26; from 0.26 two with async scheduling, its default.
    t = fit_vllm.in_flight_tokens(batched, async_scheduling=p["async_scheduling"], pp=p["pp"], version=p["version"])
    unknown_async = p["async_scheduling"] is None and (p["version"] is None or p["version"] >= (0, 26))
    overhead = p["overhead_gib"] if p["overhead_gib"] is not None else fit_vllm.overhead_gib(batched)
    pool = p["pool_gib"] if p["pool_gib"] is not None else p["usable"] - p["per_gpu"] - overhead
    low = pool if p["pool_gib"] is not None else pool + overhead - min(overhead, OVERHEAD_FLOOR_GIB["vllm"])
    out = {"overhead": overhead, "pool": pool, "in_flight": t,
           "notes": [f"in-flight tokens {t:,} = --max-num-batched-tokens {batched:,} x "
                     f"{t // batched} batch(es) in flight; overhead {overhead:.1f} GiB/GPU (activation peak, CUDA graphs, NCCL)"]}
    if unknown_async:
        out["notes"].append("one batch in flight assumed: vLLM >= 0.26 reserves two with async scheduling, its default, "
                            "unless the launch says --no-async-scheduling (--async-scheduling counts two)")
    if not kvm.get("csa_layers"):
        v41 = _vllm_v41(kvm, p, pool, low, t)
        if v41 is not None:
            return {**out, **v41, "notes": out["notes"] + v41["notes"]}
        if kvm.get("kv_source_layer_ids"):
            out["notes"].append(f"V4.1 on {p['gpu_name'] or 'an unnamed GPU'}: vLLM's layout is ported for Hopper, SM100 "
                                "and SM12x GPUs named as such: DeepSeek's bytes per token stand in")
        return {**out, **_simple(pool, low, _per_token_only(kvm, p["name"]), 0.0, p)}
    csa, hca, layers = kvm["csa_layers"], kvm.get("hca_layers", 0), int(kvm.get("layers", 43))
    swa = layers + p["draft_layers"]  # each MTP/DSpark draft layer adds one window-only page to the window group
    if p["draft_layers"]:
        out["notes"].append(f"{p['spec_method']} speculative decoding: {p['draft_layers']} draft layer(s), each a 64-token "
                            "window page in vLLM's sliding-window groups (their weights are counted with the checkpoint)")
    if p["version"] is not None and p["version"] < fit_vllm.OLD_PACKING:
        return {**out, **_vllm_packed(fit_vllm.packed_layout(swa, csa, hca, p["indexer"]), pool, low, t, p)}
    groups = fit_vllm.packed_groups(swa, csa, hca, p["indexer"])[1]
    block = fit_vllm.bytes_per_block(csa, hca, p["indexer"], p["version"], swa_layers=swa) / p["pp"]
    blocks, conc, printed = fit_vllm.capacity(pool * GIB, block, p["asked"], t, groups)
    low_blocks = int(max(low, 0) * GIB // block)
    per_req = fit_vllm.blocks_per_request(p["asked"], t, groups)
    return {**out, "bpt": block / fit_vllm.BLOCK, "fixed": (per_req - math.ceil(p["asked"] / fit_vllm.BLOCK)) * block,
            "blocks": blocks, "printed": printed, "concurrency": conc,
            "est": fit_vllm.max_len_for(blocks, t, p["context"], 1, groups),
            "len_fits": fit_vllm.max_len_for(blocks, t, p["context"], p["seqs"], groups) // BLOCK * BLOCK,
            "len_fits_low": fit_vllm.max_len_for(low_blocks, t, p["context"], p["seqs"], groups) // BLOCK * BLOCK}


def _vllm_v41(kvm: dict, p: dict, pool: float, low: float, t: int) -> dict | None:
    """V4.1 on vLLM 0.30+ (`fit_vllm_v41`): the engine's packing of its kv-source pages, 32-token window pages and
    compressor rings, with the record the GPU writes (SM100: MXFP8, `fp8_ds_mla`; `nvfp4_ds_mla` is not told apart);
    None (DeepSeek's bytes per token stand in) for a GPU no rule names or a vLLM without V4.1."""
    arch = fit_vllm_v41.v41_arch(p["gpu_name"])
    if not kvm.get("kv_source_layer_ids") or arch is None or (p["version"] is not None and p["version"] < (0, 30)):
        return None
    block, sm100 = arch
    ratios = list(kvm.get("compress_ratios") or fit_sglang.V41_COMPRESS_RATIOS)[: int(kvm.get("layers") or 40)]
    buckets = fit_vllm_v41.v41_buckets(ratios, list(kvm["kv_source_layer_ids"]), draft_layers=p["draft_layers"], block=block,
                                       sm100="fp8_ds_mla" if sm100 else None, spec_tokens=p["spec_tokens"] or 0,
                                       indexer_bytes=fit_vllm.INDEXER.get(p["indexer"], 132))
    block_bytes, groups = fit_vllm_v41.plan(buckets)
    block_bytes /= p["pp"]
    blocks = int(max(pool, 0) * GIB // block_bytes)
    per_req = fit_vllm_v41.blocks_per_request(groups, p["asked"], t)
    conc = blocks / per_req

    def fits(n: int) -> int:
        return fit_vllm_v41.max_len(groups, n, t, p["context"], p["seqs"]) // block * block

    return {"bpt": block_bytes / block, "fixed": (per_req - math.ceil(p["asked"] / block)) * block_bytes, "blocks": blocks,
            "printed": int(conc * p["asked"]), "concurrency": conc, "est": fit_vllm_v41.max_len(groups, blocks, t, p["context"]),
            "len_fits": fits(blocks), "len_fits_low": fits(int(max(low, 0) * GIB // block_bytes)),
            "notes": [f"V4.1: vLLM's own packing ({len(groups)} buckets, {block}-token blocks of {block_bytes:,.0f} B, "
                      f"{per_req:,} blocks a request): only the kv_source layers hold compressed KV"]}


def _vllm_packed(layout: tuple, pool: float, low: float, t: int, p: dict) -> dict:
    """vLLM 0.22-0.26: blocks of the packed layout, requests counted in bytes, the estimate from the tuple layout.
    `fixed` is what the needed-memory check adds beyond the request's own full-context blocks."""
    pp = p["pp"]
    block = layout[1] / pp
    blocks = int(max(pool, 0) * GIB // block)
    per_req = fit_vllm.blocks_per_request_packed(layout, p["asked"], t)
    conc = blocks / per_req
    needed = fit_vllm.needed_bytes_packed(layout, p["asked"], t) / pp

    def fits(g: float) -> int:
        n = int(max(g, 0) * GIB // block)
        longest = fit_vllm.largest_len(lambda length: p["seqs"] * fit_vllm.blocks_per_request_packed(layout, length, t) <= n,
                                       p["context"])
        return longest // BLOCK * BLOCK

    return {"bpt": block / fit_vllm.BLOCK, "fixed": needed - math.ceil(p["asked"] / fit_vllm.BLOCK) * block,
            "blocks": blocks, "printed": int(conc * p["asked"]), "concurrency": conc,
            "est": fit_vllm.max_len_packed(layout, pool * GIB * pp, t, p["context"]),
            "len_fits": fits(pool), "len_fits_low": fits(low)}


def _simple(pool: float, low: float, bpt: float, fixed: float, p: dict) -> dict:
    """Tokens = (pool - fixed per sequence) / bytes per token: the fallback where no engine layout is ported."""
    tokens = int(max(pool * GIB - fixed, 0) / bpt)
    fits = lambda g: min(int(max(g * GIB / p["seqs"] - fixed, 0) / bpt), p["context"])  # noqa: E731
    return {"bpt": bpt, "fixed": fixed, "blocks": 0, "printed": tokens, "concurrency": tokens / p["asked"],
            "est": min(tokens, p["context"]), "len_fits": fits(pool), "len_fits_low": fits(low)}


def _sglang_pool(kvm: dict, p: dict) -> dict:
    pool = p["pool_gib"] if p["pool_gib"] is not None else fit_sglang.pool_gib(p["gpu_mem_gib"], p["per_gpu"], p["fraction"])
    out = {"overhead": 0.0, "pool": pool, "in_flight": 0,
           "notes": ["SGLang budget = free memory after loading - memory before loading x (1 - --mem-fraction-static); "
                     "--kv-cache-dtype does not change V4's sizing"]}
    version = p["version"] or (0, 5, 12)
    layers = int(kvm.get("layers", 43))
    spec = p["spec_method"] is not None  # any --speculative-algorithm (NGRAM too): doubled rings, the draft's (L+1)/L
    if spec:
        out["notes"].append(f"SGLang speculative decoding ({p['spec_method']}): compress-state rings doubled and every "
                            "per-token byte x (L+1)/L for the draft worker's pool")
    if not kvm.get("csa_layers"):
        owners = fit_sglang.v41_owner_layers(kvm) if (0, 5, 21) <= version < (0, 5, 23) else None
        if owners is None:
            return {**out, **_simple(pool, pool, _per_token_only(kvm, p["name"]), 0.0, p)}
        out["notes"].append("V4.1: SGLang 0.5.21's own pools (kv_source_layer_ids own the compressed KV; cap-mode "
                            "sliding-window and pair-state bytes fixed)")
        bpt = fit_sglang.bytes_per_full_token_v41(owners, layers, speculative=spec) / p["pp"]
        fixed = fit_sglang.cap_fixed_bytes(layers, owners.get(4, 0), owners.get(128, 0), latent=fit_sglang.LATENT_0512,
                                           c2_layers=owners.get(2, 0), **_sglang_cap(p, spec)) / p["pp"]
        tokens = fit_sglang.full_tokens(pool * GIB, bpt, fixed)
        return {**out, "bpt": bpt, "fixed": fixed, "blocks": 0, "printed": tokens, "concurrency": tokens / p["asked"],
                "est": min(tokens, p["context"]), "len_fits": min(tokens // p["seqs"], p["context"]),
                "len_fits_low": min(tokens // p["seqs"], p["context"])}
    # 0.5.12 counts every compress_ratios entry (the MTP one too); 0.5.23 the target stage's layers only
    # (`DSV4PoolConfigurator`: compress_ratios[start_layer:end_layer], end_layer = num_hidden_layers).
    total = layers if version >= (0, 5, 23) else layers + 1
    bpt = fit_sglang.bytes_per_full_token(total, kvm["csa_layers"], kvm.get("hca_layers", 0),
                                          speculative=spec, version=version) / p["pp"]
    fixed = fit_sglang.fixed_bytes(total, kvm["csa_layers"], kvm.get("hca_layers", 0), version, **_sglang_cap(p, spec)) / p["pp"]
    tokens = fit_sglang.full_tokens(pool * GIB, bpt, fixed)
    return {**out, "bpt": bpt, "fixed": fixed, "blocks": 0, "printed": tokens, "concurrency": tokens / p["asked"],
            "est": min(tokens, p["context"]), "len_fits": min(tokens // p["seqs"], p["context"]),
            "len_fits_low": min(tokens // p["seqs"], p["context"])}


def _sglang_cap(p: dict, spec: bool) -> dict:
    """The launch's cap-mode settings (`--max-running-requests`, 256 for V4 when unset; `--chunked-prefill-size`; the
    speculative steps / top-k / draft tokens, None: SGLang's defaults (3, 1, 4)); per attention-DP worker."""
    cap = {"speculative": spec, "steps": p["spec_steps"], "topk": p["spec_topk"], "draft_tokens": p["spec_tokens"],
           "attn_dp": p["attn_dp"]}
    if p["max_running"]:
        cap["max_running_requests"] = p["max_running"]
    if p["chunk"]:
        cap["chunk"] = p["chunk"]
    return cap


def _llamacpp_pool(kvm: dict, p: dict) -> dict:
    """llama.cpp: per GPU, usable - weights - compute buffer - CUDA context; the compute buffer grows with the context
    (fit_llamacpp.compute_buffer_bytes), so the longest context that fits pays both the KV and that growth."""
    csa, hca, layers = kvm.get("csa_layers", 0), kvm.get("hca_layers", 0), int(kvm.get("layers", 43))
    heads = 64 if int(kvm.get("hidden_size") or 4096) <= 4096 else 128  # Flash 64, Pro 128 attention heads (config.json)
    ub, fa = p["n_ubatch"], p["flash_attn"]
    slope = fit_llamacpp.compute_slope(ub, fa, heads, csa=bool(csa))
    fixed_compute = fit_llamacpp.compute_fixed(ub, fa, heads, p["asked"], p["seqs"]) / GIB
    compute = fixed_compute + slope * p["asked"] / GIB
    reserve = p["overhead_gib"] if p["overhead_gib"] is not None else compute + fit_llamacpp.CONTEXT_GIB
    pool = p["pool_gib"] if p["pool_gib"] is not None else p["usable"] - p["per_gpu"] - reserve
    bpt = fit_llamacpp.kv_bytes_per_token(csa, hca, p["kv_format"]) if csa else _per_token_only(kvm, p["name"])
    window = fit_llamacpp.window_bytes(layers, p["asked"], p["seqs"], p["kv_format"], ub)
    out = _simple(pool * p["gpus"], pool * p["gpus"], bpt, window, p)
    if p["overhead_gib"] is None and p["pool_gib"] is None and slope:
        base = (p["usable"] - p["per_gpu"] - fixed_compute - fit_llamacpp.CONTEXT_GIB) * p["gpus"] * GIB - p["seqs"] * window
        longest = min(int(max(base, 0) / (p["seqs"] * bpt + slope * p["gpus"])), p["context"])
        out["len_fits"] = out["len_fits_low"] = longest
    return {**out, "overhead": reserve, "pool": pool, "in_flight": 0,
            "notes": [f"llama.cpp: KV split over {p['gpus']} GPU(s) by layer; per GPU a {compute:.2f} GiB compute buffer at "
                      f"-c {p['asked']:,} -ub {ub} -fa {'on' if fa else 'off'} (the indexer's f32 scores grow "
                      f"{slope / 1024:.0f} KiB per context token) + {fit_llamacpp.CONTEXT_GIB:.1f} GiB CUDA context"]}


def _trtllm_pool(kvm: dict, p: dict) -> dict:
    """TensorRT-LLM: `--kv_cache_free_gpu_memory_fraction` (0.9 by default, commands/serve.py) of the memory left after the
    weights and buffers. Its DeepseekV4CacheManager is not ported: the V4 storage bytes (CSA latent + indexer key /4, HCA
    latent /128) and the 128-token window per request stand in for it (docs/fit.md)."""
    buffers = p["overhead_gib"] if p["overhead_gib"] is not None else fit_vllm.OVERHEAD_GIB
    free = p["gpu_mem_gib"] - p["per_gpu"] - buffers
    pool = p["pool_gib"] if p["pool_gib"] is not None else max(free, 0.0) * p["fraction"]
    if kvm.get("csa_layers"):
        bpt = kv_bytes_per_token(kvm, "fp8", "fp8", padded=False) / p["pp"]
        window = int(kvm.get("layers", 43)) * 128 * LATENT_BYTES["fp8"] / p["pp"]
    else:
        bpt, window = _per_token_only(kvm, p["name"]), 0.0
    return {**_simple(pool, pool, bpt, window, p), "overhead": buffers, "pool": pool, "in_flight": 0,
            "notes": ["TensorRT-LLM: KV pool = --kv_cache_free_gpu_memory_fraction x (GPU memory - weights - buffers); its "
                      "DeepseekV4CacheManager is not ported, so the tokens are V4's storage bytes, not TensorRT-LLM's own count"]}


POOLS = {"vllm": _vllm_pool, "sglang": _sglang_pool, "trtllm": _trtllm_pool, "llamacpp": _llamacpp_pool}
