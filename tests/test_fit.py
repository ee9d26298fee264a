"""The memory fit: the formula's own numbers (v4-facts §5, review §5) and calibration against every
measured engine figure in v4-facts §5.3, each test naming its source and the tolerance reached."""

from __future__ import annotations

import pytest

from v4doctor.launch import fit_sglang, fit_vllm
from v4doctor.launch.fit import GIB, expert_params, fit, kv_bytes_per_token, weight_split, weights_per_gpu
from v4doctor.knowledge.kb import load

KB = load()
FLASH, PRO = KB.model("flash"), KB.model("pro")


# --------------------------------------------------------------------------- the formula (review §5 table)
@pytest.mark.parametrize("model,fmt,idx,padded,expected", [
    ("flash", "fp8", "fp8", False, 3850.25),
    ("flash", "fp8", "fp8", True, 3915.0),  # page padding: 37,440 + 8,640 per C4 block, 1,728 per C128 block
    ("flash", "fp8", "mxfp4", True, 3584.25),
    ("pro", "fp8", "fp8", False, 5511.4375),
    ("pro", "fp8", "fp8", True, 5609.25),
    ("pro", "fp8", "mxfp4", True, 5136.75),
    ("flash", "f16", "f16", False, 6880.0),  # llama.cpp default: 6.72 GiB at 1M (published figure)
    ("pro", "bf16", "bf16", False, 9848.0),  # 9.62 GiB at 1M
])
def test_kv_bytes_per_token_reproduce_the_review_table(model, fmt, idx, padded, expected):
    assert kv_bytes_per_token(KB.model(model), fmt, idx, padded=padded) == pytest.approx(expected, abs=0.01)


def test_flash_f16_at_1m_is_the_published_6_72_gib():
    assert kv_bytes_per_token(FLASH, "f16", "f16", padded=False) * 1048576 / GIB == pytest.approx(6.72, abs=0.005)


def test_expert_split_is_derived_from_config_fields():
    # (43 layers + 1 MTP layer) x 256 experts x 3 x 4096 x 2048
    assert expert_params(FLASH) == 44 * 256 * 3 * 4096 * 2048
    total, expert, notes = weight_split(FLASH, mtp=True)
    assert total == FLASH["disk_bytes"] and 0 < total - expert < 0.1 * total
    assert "derived" in notes[0]
    # without MTP speculative decoding the MTP layer's experts (1 of 44 MoE layers) are not loaded
    loaded, expert_no_mtp, _ = weight_split(FLASH)
    assert expert_no_mtp == pytest.approx(expert * 43 / 44) and total - loaded == pytest.approx(expert / 44)


def test_layouts_tp_shards_all_dp_ep_replicates_non_expert():
    total, expert = 100.0, 80.0
    assert weights_per_gpu(total, expert, 4, 1, 1, False) == 25.0
    assert weights_per_gpu(total, expert, 1, 4, 1, True) == 20.0 + 20.0  # non-expert replicated, experts / 4
    assert weights_per_gpu(total, expert, 2, 1, 2, False) == 25.0  # PP splits layers


def test_a_requant_without_a_size_borrows_its_base():
    nvfp4 = KB.model("nvidia-pro-nvfp4")  # no size on disk in the knowledge base
    total, expert, notes = weight_split(nvfp4, KB.model(nvfp4["base"]))
    assert expert == pytest.approx(expert_params(PRO) * 61 / 62 * 4.5 / 8)  # nvfp4 experts, MTP layer not loaded
    assert any("estimated from" in n for n in notes)


def test_tp_replicates_kv_dp_multiplies_pools():
    tp = fit(FLASH, gpus=8, gpu_mem_gib=180, tp=8, max_model_len=1048576)
    dp = fit(FLASH, gpus=8, gpu_mem_gib=180, dp=8, ep=True, max_model_len=1048576)
    assert tp.kv_pools == 1 and dp.kv_pools == 8
    assert dp.concurrency_at_max_len > 5 * tp.concurrency_at_max_len


# --------------------------------------------------------------------------- engines' own accounting
def test_vllm_block_bytes_and_fixed_blocks_match_the_audit():
    """kb-audit §3, read in vLLM 0.33: Flash 1,002,240 B a block (917,568 with the MXFP4 indexer), Pro 1,435,968 B;
    at 8,192 in-flight tokens a request holds 3,354 blocks beyond its full-context ones."""
    assert fit_vllm.bytes_per_block(21, 20) == 1_002_240
    assert fit_vllm.bytes_per_block(21, 20, "mxfp4") == 917_568
    assert fit_vllm.bytes_per_block(30, 31) == 1_435_968
    assert fit_vllm.blocks_per_request(1_048_576, 8192) - 1_048_576 // 256 == 3354


def test_vllm_default_batched_tokens_by_device_memory():
    """engine/arg_utils.py (0.33): >= 160 GiB -> 16,384; >= 70 GiB (not A100, not GB10) -> 8,192 for serve; else 2,048."""
    assert fit_vllm.default_batched_tokens(178.6, "NVIDIA B200") == 16384
    assert fit_vllm.default_batched_tokens(139.8, "NVIDIA H200") == 8192
    assert fit_vllm.default_batched_tokens(79.3, "NVIDIA A100-SXM4-80GB") == 2048
    assert fit_vllm.default_batched_tokens(95.0, "NVIDIA H20", api_server=False) == 16384


def test_sglang_bytes_per_full_token_is_what_its_log_prints():
    """SGLang 0.5.12 logs `bytes_per_full_token=15955.85` for Flash (44 compress_ratios, 21 CSA, 20 HCA);
    0.5.23's cap mode: 3,899.25 B (kb-audit §4). Speculative decoding doubles the rings and adds the draft layer."""
    assert fit_sglang.bytes_per_full_token(44, 21, 20) == pytest.approx(15955.85, abs=0.01)
    assert fit_sglang.bytes_per_full_token(44, 21, 20, version=(0, 5, 23)) == pytest.approx(3899.25)
    assert fit_sglang.bytes_per_full_token(44, 21, 20, speculative=True) > 15955.85 * 45 / 44


def test_sglang_ignores_kv_cache_dtype_for_v4():
    a = fit(FLASH, gpus=8, gpu_mem_gib=95.58, engine="sglang", tp=8, kv_format="bf16")
    b = fit(FLASH, gpus=8, gpu_mem_gib=95.58, engine="sglang", tp=8, kv_format="fp8")
    assert a.kv_tokens == b.kv_tokens and a.kv_bytes_per_token == b.kv_bytes_per_token


def test_sglang_kv_tokens_are_not_vllms():
    """The issue's bug: SGLang's tokens came from vLLM's bytes per token (3-5x too many). SGLang's full token costs 15,956 B."""
    s = fit(FLASH, gpus=8, gpu_mem_gib=95.58, engine="sglang", tp=8)
    assert s.kv_bytes_per_token == pytest.approx(15955.85, abs=0.01)


# --------------------------------------------------------------------------- layouts
def test_a_layout_that_needs_more_gpus_than_given_never_fits():
    r = fit(FLASH, gpus=8, gpu_mem_gib=80, tp=16, max_model_len=8192)
    assert not r.fits and r.layout_error and "16 GPUs" in r.layout_error and r.gpus_used == 16


def test_sglang_dp_attention_runs_inside_tp():
    """SGLang: --tp 8 --dp 8 --enable-dp-attention is 8 GPUs; the same on vLLM (TP x DP) would be 64."""
    s = fit(FLASH, gpus=8, gpu_mem_gib=139.8, engine="sglang", tp=8, dp=8, dp_attention=True)
    v = fit(FLASH, gpus=8, gpu_mem_gib=139.8, engine="vllm", tp=8, dp=8)
    assert s.layout_error is None and s.gpus_used == 8 and s.kv_pools == 8
    assert v.layout_error and not v.fits


def test_json_has_max_concurrency_and_estimated_max_model_len():
    r = fit(FLASH, gpus=2, gpu_mem_gib=139.8, tp=2, max_model_len=262144)
    d = r.to_dict()
    assert d["max_concurrency"] > 1 and 262144 < d["estimated_max_model_len"] <= 1_048_576


def test_a_plan_that_does_not_fit_names_a_positive_length():
    """Never "lower --max-model-len to 0": when the asked length does not fit, the largest that does is > 0."""
    r = fit(FLASH, gpus=2, gpu_mem_gib=95.58, tp=2, max_model_len=1_048_576, max_num_seqs=4)
    assert not r.fits and r.weights_fit and 0 < r.max_model_len_fits < 1_048_576


def test_known_checkpoints_get_a_fit_instead_of_a_refusal():
    """The issue's unanswered cases: Flash-DSpark (size now known), V4.1-Flash (bytes per token), FP8 re-quants."""
    for key, gpus, mem in (("flash-dspark", 4, 139.8), ("v4.1-flash", 8, 178.6), ("sgl-flash-fp8", 4, 139.8)):
        m = KB.model(key)
        base = KB.find_model(m["base"]) if m.get("base") else None
        r = fit(m, gpus=gpus, gpu_mem_gib=mem, tp=gpus, base=base, max_model_len=131072)
        assert r.weights_gib_per_gpu > 0 and r.kv_tokens > 0, key


def test_llamacpp_gguf_that_does_not_fit_vram_needs_cpu_expert_offload():
    """llama.cpp keeps the experts of the first --n-cpu-moe layers in RAM: a 155 GB GGUF on 2x 48 GB needs some."""
    g = KB.model("unsloth-flash-gguf")
    r = fit(g, gpus=2, gpu_mem_gib=48, engine="llamacpp", tp=2, kv_format="f16", indexer="f16",
            base=KB.model("flash"), max_model_len=65536)
    assert not r.weights_fit and r.n_cpu_moe_needed is not None and 0 < r.n_cpu_moe_needed <= 43
    off = fit(g, gpus=2, gpu_mem_gib=48, engine="llamacpp", tp=2, kv_format="f16", indexer="f16",
              base=KB.model("flash"), max_model_len=65536, n_cpu_moe=r.n_cpu_moe_needed)
    assert off.weights_fit and off.weights_gib_per_gpu < r.weights_gib_per_gpu


# --------------------------------------------------------------------------- verdicts
def test_flash_on_one_80gb_gpu_does_not_fit_the_guides_claim():
    r = fit(FLASH, gpus=1, gpu_mem_gib=80, max_model_len=131072)
    assert not r.weights_fit and not r.fits and r.max_model_len_fits == 0


def test_largest_context_is_rounded_to_the_block_and_fits():
    r = fit(FLASH, gpus=2, gpu_mem_gib=96, tp=2, max_model_len=1048576, max_num_seqs=4)
    assert not r.fits and 0 < r.max_model_len_fits < 1048576 and r.max_model_len_fits % 256 == 0
    again = fit(FLASH, gpus=2, gpu_mem_gib=96, tp=2, max_model_len=r.max_model_len_fits, max_num_seqs=4)
    assert again.fits
    over = fit(FLASH, gpus=2, gpu_mem_gib=96, tp=2, max_model_len=r.max_model_len_fits + 256, max_num_seqs=4)
    assert not over.fits


def test_sglang_default_mem_fraction_follows_its_server_args():
    """server_args.py (0.5.12): GPU memory less max(10 GiB, 512 + 1.5 x chunk + 2 x graph batch + TP x PP / 8 GiB
    + 1.5 GiB piecewise) MiB on > 60 GiB GPUs; DP attention and speculative decoding reserve more."""
    assert fit_sglang.default_fraction(140.4, tp=8) == 0.886  # chunk 8192, graph batch 512: 16,384 MiB reserved
    assert fit_sglang.default_fraction(178.6, tp=8) == 0.843  # >= 160 GiB: chunk 16384
    assert fit_sglang.default_fraction(140.4, tp=8, dp=8, dp_attention=True) < fit_sglang.default_fraction(140.4, tp=8)
    r = fit(FLASH, gpus=8, gpu_mem_gib=140.4, engine="sglang", tp=8)
    assert r.fraction == 0.886


def test_llamacpp_window_cache_follows_the_iswa_sizing():
    """llama-kv-cache-iswa.cpp: min(ctx, PAD(128 x seqs + n_ubatch, 256)) cells of a 1,024 B bf16/f16 latent on every layer;
    llama.cpp#27680 printed `SWA KV cache, size = 4352 cells` and `182.75 MiB` for 43 layers at -ub 4096."""
    from v4doctor.launch import fit_llamacpp

    assert fit_llamacpp.swa_cells(64000, 1, 4096) == 4352
    assert fit_llamacpp.window_bytes(43, 64000, 1, "bf16", 4096) == 182.75 * 2**20
    assert fit_llamacpp.swa_cells(64000) == 768 and fit_llamacpp.swa_cells(300) == 300  # default -ub 512; never above ctx


def test_sglang_0523_cap_mode_fixed_bytes_ported_from_its_configurator():
    """pool_configurator.py (0.5.23): the sliding-window pool from the request cap + cached prefix tails and the C128
    state rows; kb-audit §4 derived ~22 GB (Flash) and ~32 GB (Pro) per attention rank from the same code."""
    assert fit_sglang.cap_fixed_bytes(44, 21, 20) / 1e9 == pytest.approx(22.4, abs=0.05)
    assert fit_sglang.cap_fixed_bytes(62, 30, 31) / 1e9 == pytest.approx(32.0, abs=0.05)
    assert fit_sglang.cap_fixed_bytes(44, 21, 20, radix_cache=False) < fit_sglang.cap_fixed_bytes(44, 21, 20) / 2
    new = fit(FLASH, gpus=8, gpu_mem_gib=140.4, engine="sglang", tp=8, engine_version="0.5.23")
    old = fit(FLASH, gpus=8, gpu_mem_gib=140.4, engine="sglang", tp=8, engine_version="0.5.12")
    # the fit passes 0.5.23 the target's 43 layers: DSV4PoolConfigurator slices compress_ratios to the target stage
    # (layer_setup.py: model_num_layers = num_hidden_layers), so no MTP entry: 22.05 GB, not the audit's 44-layer 22.4
    assert new.fixed_bytes_per_seq == pytest.approx(fit_sglang.cap_fixed_bytes(43, 21, 20)) == pytest.approx(22.05e9, rel=0.001)
    assert old.fixed_bytes_per_seq == 0
    assert new.kv_bytes_per_token == pytest.approx(3899.25) and new.kv_tokens > old.kv_tokens
