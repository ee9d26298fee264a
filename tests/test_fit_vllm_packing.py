"""vLLM 0.22-0.26's own V4 KV packing and request accounting (v4doctor/launch/fit_vllm.py), ported from
v1/core/kv_cache_utils.py of the 0.26.0 wheel (also read in 0.22.0, 0.24.0 and 0.25.0), and SGLang 0.5.12's
replicated V4 weights (fit_sglang.weights_extra_gib, from srt/models/deepseek_v4.py). Each figure below is one an
engine printed (the rows of fixtures/fit/calibration.toml) or one the code yields by hand."""

from __future__ import annotations

from v4doctor.launch import fit_sglang, fit_vllm
from v4doctor.launch.fit import GIB, fit
from v4doctor.knowledge.kb import load


def test_packed_block_is_22_window_pages_not_21():
    """_approximate_gcd([21, 43, 21, 20], lower_bound=21) picks 22 tuples (padding 5 < 21), so the 43 window
    layers split 22 + 21 and the block carries 22 x 37,440 + 21 x 8,640 + 20 x 1,728 bytes."""
    n, block, groups = fit_vllm.packed_layout(43, 21, 20)
    assert (n, block) == (22, 1_039_680)
    assert sorted(len(g) for kind, g in groups if kind == "swa") == [21, 22]
    assert fit_vllm.packed_layout(61, 30, 31)[1] == 1_473_408  # Pro
    assert fit_vllm.packed_layout(43, 21, 20, "mxfp4")[1] == 955_008  # indexer state padded up to a latent page
    assert fit_vllm.bytes_per_block(21, 20, version=(0, 26, 0), layers=43) == 1_039_680
    assert fit_vllm.bytes_per_block(21, 20, version=(0, 33, 0), layers=43) == 1_002_240


def test_the_h20_logs_of_vllm_issue_51041():
    """0.26: 7.01 GiB at 912,128 tokens printed 1,009,661 tokens (one batch of 8,192 in flight); the 0731 run,
    7.71 GiB at 121,344 tokens, printed 150,992 (two batches, async scheduling)."""
    layout = fit_vllm.packed_layout(43, 21, 20)
    blocks = int(7.01 * GIB // layout[1])
    tokens = int(blocks / fit_vllm.blocks_per_request_packed(layout, 912_128, 8192) * 912_128)
    assert abs(tokens - 1_009_661) / 1_009_661 < 0.005
    blocks = int(7.71 * GIB // layout[1])
    tokens = int(blocks / fit_vllm.blocks_per_request_packed(layout, 121_344, 16_384) * 121_344)
    assert abs(tokens - 150_992) / 150_992 < 0.005
    # with two batches the first log would read 31 % low: the count is sensitive to the in-flight tokens
    assert int(7.01 * GIB // layout[1]) / fit_vllm.blocks_per_request_packed(layout, 912_128, 16_384) < 0.8


def test_the_gh200_precheck_of_vllm_issue_44376():
    """0.22, 5.44 GiB, max_model_len 30,000, 16,384 batched tokens: '6.66 GiB KV cache is needed' and
    'the estimated maximum model length is 13528' (118 + 2 x 259 + 4,099 + 2,065 pages x 22 x 47,808 B)."""
    layout = fit_vllm.packed_layout(43, 21, 20)
    assert fit_vllm.needed_bytes_packed(layout, 30_000, 16_384) == 6_800 * 22 * 47_808
    assert round(fit_vllm.needed_bytes_packed(layout, 30_000, 16_384) / GIB, 2) == 6.66
    assert abs(fit_vllm.max_len_packed(layout, 5.44 * GIB, 16_384, 30_000) - 13_528) <= 20


def test_in_flight_tokens_follow_the_version():
    """Before 0.26 the window reservation is one --max-num-batched-tokens whatever the scheduling; from 0.26
    max_in_flight_tokens doubles it with async scheduling and counts PP batches without it."""
    assert fit_vllm.in_flight_tokens(8192, async_scheduling=True, version=(0, 25, 0)) == 8192
    assert fit_vllm.in_flight_tokens(8192, async_scheduling=True, version=(0, 26, 0)) == 16_384
    assert fit_vllm.in_flight_tokens(8192, async_scheduling=False, pp=2, version=(0, 33, 0)) == 16_384
    assert fit_vllm.in_flight_tokens(8192, version=(0, 33, 0)) == 8192  # v4doctor's stated default (docs/fit.md)


def test_fit_uses_the_packed_accounting_for_old_versions_only():
    kb = load()
    flash = kb.model("flash")
    old = fit(flash, gpus=2, gpu_mem_gib=95.58, tp=2, max_model_len=912_128, kv_pool_gib=7.01, engine_version="0.26.0",
              max_num_batched_tokens=8192)
    new = fit(flash, gpus=2, gpu_mem_gib=95.58, tp=2, max_model_len=912_128, kv_pool_gib=7.01, engine_version="0.33.0",
              max_num_batched_tokens=8192)
    assert old.kv_blocks == int(7.01 * GIB // 1_039_680) and new.kv_blocks == int(7.01 * GIB // 1_002_240)
    assert old.kv_tokens_per_pool != new.kv_tokens_per_pool


def test_sglang_loads_replicated_attention_weights_on_every_tp_rank():
    """SGLang 0.5.12 on Hopper: wq_a/wkv, compressors, indexer and mHC weights whole on every rank, wo_a in bf16."""
    hopper = fit_sglang.weights_extra_gib(4096, 43, 21, 20, attn_tp=8, gpu_name="NVIDIA H20")
    blackwell = fit_sglang.weights_extra_gib(4096, 43, 21, 20, attn_tp=8, gpu_name="NVIDIA B200")
    wo_a = 43 * 4096 * 8192 / 8 / GIB
    assert abs(hopper - blackwell - wo_a) < 1e-9 and 1.0 < hopper < 1.5
    assert fit_sglang.weights_extra_gib(4096, 43, 21, 20, attn_tp=1, gpu_name="NVIDIA B200") == 0.0  # DP attention
    assert fit_sglang.weights_extra_gib(None, 43, 21, 20, attn_tp=8) == 0.0  # shapes unknown: nothing added
    kb = load()
    base = kb.model("flash-base")
    s = fit(base, gpus=8, gpu_mem_gib=95.58, engine="sglang", tp=8, fraction=0.6, gpu_name="NVIDIA H20")
    v = fit(base, gpus=8, gpu_mem_gib=95.58, engine="vllm", tp=8, gpu_name="NVIDIA H20")
    assert abs(s.weights_gib_per_gpu - v.weights_gib_per_gpu - hopper) < 1e-6
