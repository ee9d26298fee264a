"""Speculative decoding in the memory fit (issue #13 item 1): the MTP/DSpark draft's KV and weights in vLLM, the
draft worker's share and rings in SGLang, and the launch flags that ask for them.

The vLLM figures are the engine's own: fixtures/fit/vllm-0.33.0-kv-groups.json and vllm-0.26.0-kv-groups.json were
written by tools/vllm_kv_groups.py, which builds V4's layer specs with vLLM's own classes (one window-only layer per
draft layer) and runs the installed wheel's grouping, block sizing and per-request counting on them. The SGLang
figures are worked out by hand below from `srt/model_executor/pool_configurator.py` (0.5.12, 0.5.23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from v4doctor.knowledge.kb import load
from v4doctor.launch import fit_sglang, fit_vllm, parse_text, speculative
from v4doctor.launch.fit import fit
from v4doctor.launch.plan import plan

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "fit"
KB = load()
FLASH, PRO = KB.model("flash"), KB.model("pro")


def _rows(version: str):
    data = json.loads((FIXTURES / f"vllm-{version}-kv-groups.json").read_text())
    assert data["source"].startswith(f"vllm {version} wheel")
    for row in data["rows"]:
        ratios = data["cases"][row["case"]]
        yield row, len(ratios) + row["draft_layers"], ratios.count(4), ratios.count(128)


def test_vllm_033_port_matches_the_engine_on_every_shape():
    """`fit_vllm.packed_groups` + `blocks_per_request` give vLLM 0.33's bytes per block and blocks per request for
    Flash, Pro and two synthetic stacks (one whose window group outgrows the MLA group, one with CSA = HCA), with
    0, 1, 3 and 12 draft layers, both indexer formats, three lengths and in-flight counts: 96 rows."""
    n = 0
    for row, swa, csa, hca in _rows("0.33.0"):
        block, groups = fit_vllm.packed_groups(swa, csa, hca, row["indexer"])
        assert block == row["bytes_per_block"], row
        assert fit_vllm.blocks_per_request(row["max_model_len"], row["in_flight"], groups) == row["blocks_per_request"], row
        n += 1
    assert n == 96


def test_vllm_026_packing_counts_the_draft_layers_like_the_engine():
    """0.22-0.26's tuple packing (`packed_layout`) fed target + draft window layers: block, a request's blocks and the
    needed-memory bytes as the 0.26.0 wheel computes them, on the same 96 shapes."""
    for row, swa, csa, hca in _rows("0.26.0"):
        layout = fit_vllm.packed_layout(swa, csa, hca, row["indexer"])
        assert layout[1] == row["bytes_per_block"], row
        assert fit_vllm.blocks_per_request_packed(layout, row["max_model_len"], row["in_flight"]) == row["blocks_per_request"], row
        assert fit_vllm.needed_bytes_packed(layout, row["max_model_len"], row["in_flight"]) == row["needed_bytes"], row


def test_what_the_draft_layers_cost_flash_in_each_vllm():
    """0.33: the MTP layer (44 window layers) and DSpark's three (46) fill the second window group's padding
    (22 + 21 -> 22 + 22 -> 23 + 23 pages of 37,440 B, under the MLA group's 1,002,240 B): no KV cost. 0.26: MTP leaves the
    block at 22 tuples (1,039,680 B) but adds a window page's bytes to every request (7,065 -> 7,070 blocks at 1M);
    DSpark's 46 window layers move `_approximate_gcd` to 23 tuples: 23 x 37,440 + 21 x 8,640 + 20 x 1,728 = 1,077,120 B."""
    assert fit_vllm.packed_groups(43, 21, 20) == fit_vllm.packed_groups(44, 21, 20) == fit_vllm.packed_groups(46, 21, 20) \
        == (1_002_240, (2, 1, 1))
    assert fit_vllm.packed_layout(44, 21, 20)[:2] == (22, 1_039_680)
    assert fit_vllm.packed_layout(46, 21, 20)[:2] == (23, 23 * 37_440 + 21 * 8_640 + 20 * 1_728) == (23, 1_077_120)
    assert [fit_vllm.blocks_per_request_packed(fit_vllm.packed_layout(n, 21, 20), 1_048_576, 8192) for n in (43, 44, 46)] \
        == [7065, 7070, 7080]
    # more draft layers than any V4 checkpoint has (12), as the engine lays them out (fixture rows): Flash gets a third
    # window group (19 + 18 + 18) and 131 more blocks a 1M request; Pro with the MXFP4 indexer a window group of
    # 37 pages wider than its MLA group (1,315,008 B)
    assert fit_vllm.packed_groups(43 + 12, 21, 20) == (1_002_240, (3, 1, 1))
    assert fit_vllm.blocks_per_request(1_048_576, 8192, (3, 1, 1)) == 7581
    assert fit_vllm.packed_groups(61 + 12, 30, 31, "mxfp4")[0] == 37 * 37_440 == 1_385_280


def test_the_fit_applies_the_draft_layers_per_vllm_version():
    """At a given pool (the engine's printed figure stands in for the profile), MTP changes nothing in 0.33's KV and
    DSpark (3 draft layers, `n_mtp_layers or 3` in dspark.py) costs 0.26 3.6 % of its blocks."""
    kw = dict(gpus=2, gpu_mem_gib=95.58, tp=2, max_model_len=131_072, kv_pool_gib=20.0, max_num_batched_tokens=8192)
    base, mtp = fit(FLASH, **kw, engine_version="0.33.0"), fit(FLASH, **kw, engine_version="0.33.0", spec_method="mtp")
    assert (mtp.kv_blocks, mtp.kv_tokens_per_pool) == (base.kv_blocks, base.kv_tokens_per_pool)
    assert any("1 draft layer" in n for n in mtp.notes)
    old, dspark = fit(FLASH, **kw, engine_version="0.26.0"), fit(FLASH, **kw, engine_version="0.26.0", spec_method="dspark")
    assert old.kv_blocks == int(20 * (1 << 30) // 1_039_680) and dspark.kv_blocks == int(20 * (1 << 30) // 1_077_120)
    assert dspark.kv_tokens_per_pool < old.kv_tokens_per_pool
    assert speculative.draft_layers(FLASH, "mtp") == 1 and speculative.draft_layers(KB.model("flash-dspark"), "dspark") == 3
    assert speculative.draft_layers(FLASH, "ngram") == 0


def test_the_draft_weights_load_only_with_a_draft_model():
    """vLLM skips the checkpoint's mtp.* tensors without speculative decoding (DeepSeekV4MTP loads them only as the
    drafter): the MTP layer's experts, 256 x 3 x 4,096 x 2,048 params at 4.25 bits = 3.42 GB, load with MTP, not
    with n-gram (no draft model)."""
    kw = dict(gpus=2, gpu_mem_gib=95.58, tp=2, max_model_len=131_072)
    plain, mtp, ngram = fit(FLASH, **kw), fit(FLASH, **kw, spec_method="mtp"), fit(FLASH, **kw, spec_method="ngram")
    assert (mtp.weights_gib_total - plain.weights_gib_total) * (1 << 30) == pytest.approx(256 * 3 * 4096 * 2048 * 4.25 / 8)
    assert ngram.weights_gib_total == plain.weights_gib_total and mtp.kv_tokens < plain.kv_tokens


@pytest.mark.parametrize("command, method, tokens", [
    ("vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 2 --speculative-config '{\"method\":\"mtp\",\"num_speculative_tokens\":2}'", "mtp", 2),
    ("vllm serve deepseek-ai/DeepSeek-V4-Flash-DSpark --speculative-config.method dspark "
     "--speculative-config.num_speculative_tokens 7", "dspark", 7),
    ("vllm serve deepseek-ai/DeepSeek-V4-Flash --speculative-config '{\"method\":\"ngram\",\"num_speculative_tokens\":3}'", "ngram", 3),
    ("python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp 4 --speculative-algorithm EAGLE "
     "--speculative-num-steps 3 --speculative-eagle-topk 1 --speculative-num-draft-tokens 4", "eagle", 4),
])
def test_the_launch_flags_that_ask_for_speculative_decoding(command, method, tokens):
    kw = plan(parse_text(command))
    assert (kw["spec_method"], kw["num_speculative_tokens"]) == (method, tokens)
    assert kw["mtp"] is (method != "ngram")  # the draft's weights load with a draft model only


def test_no_speculative_flag_means_no_draft():
    """Not reading "mtp" out of any text: a served name containing "eagle" is not speculative decoding."""
    kw = plan(parse_text("vllm serve deepseek-ai/DeepSeek-V4-Flash --served-model-name eagle-mtp -tp 2"))
    assert "spec_method" not in kw and kw["mtp"] is False


def test_sglang_0523_speculative_cap_mode_by_hand():
    """0.5.23 with EAGLE (SGLang's V4 defaults 3 steps, top-k 1, 4 draft tokens), Flash, 256 running requests,
    chunk 8,192, radix cache:
      per request   = window 128 + eviction 128 x 4 drafts + page 256 + 2 x max(3 x 1, 4) = 904 tokens
      SWA tokens    = 904 x 256 + 2 x 8,192 + 256 + 4 x 256 tails x (128 + 256) = 641,280 (a whole number of pages)
      per SWA token = (585 x 43 + 16 / 256 x (2,048 + 512) x 4 B x 21) x 44 / 43 (rings 16 / 256, the draft's share)
      C128 rows     = ceil((257 x 256 + 256 + 1) / 128) x 128 = 66,176, x 2 x 512 x 4 B x 20 layers
    and a full token costs (21 x (585 + 132) / 4 + 20 x 864 / 128) x 44 / 43 = 3,899.25 x 44 / 43 B."""
    per_swa = (585 * 43 + 16 / 256 * (2048 + 512) * 4 * 21) * 44 / 43
    want = 641_280 * per_swa + 66_176 * 2 * 512 * 4 * 20
    assert fit_sglang.cap_fixed_bytes(43, 21, 20, speculative=True) == pytest.approx(want)
    assert fit_sglang.cap_fixed_bytes(43, 21, 20, speculative=True, draft_tokens=2, steps=1) < want
    assert fit_sglang.bytes_per_full_token(43, 21, 20, speculative=True, version=(0, 5, 23)) == pytest.approx(3899.25 * 44 / 43)
    assert fit_sglang.decode_alloc(False) == 256 and fit_sglang.decode_alloc(True) == 8


def test_sglang_fit_reads_the_speculative_launch():
    """The fit's SGLang pools follow the algorithm: 0.5.12 inflates its printed bytes per full token by 45/44 and
    doubles the rings; 0.5.23 moves more into cap mode's fixed bytes; NGRAM counts too (is_speculative is any algorithm)."""
    kw = dict(gpus=4, gpu_mem_gib=140.4, engine="sglang", tp=4, fraction=0.85)
    old, eagle = fit(FLASH, **kw, engine_version="0.5.12"), fit(FLASH, **kw, engine_version="0.5.12", spec_method="eagle")
    assert old.kv_bytes_per_token == pytest.approx(15955.85, abs=0.01)
    assert eagle.kv_bytes_per_token == pytest.approx(fit_sglang.bytes_per_full_token(44, 21, 20, speculative=True))
    new, new_eagle = fit(FLASH, **kw, engine_version="0.5.23"), fit(FLASH, **kw, engine_version="0.5.23", spec_method="eagle")
    assert new_eagle.fixed_bytes_per_seq == pytest.approx(fit_sglang.cap_fixed_bytes(43, 21, 20, speculative=True))
    assert new_eagle.kv_tokens < new.kv_tokens
    ngram = fit(FLASH, **kw, engine_version="0.5.12", spec_method="ngram")
    assert ngram.kv_bytes_per_token == eagle.kv_bytes_per_token and ngram.weights_gib_total == old.weights_gib_total


def test_sglang_default_fraction_reserve_for_the_draft_by_version():
    """0.5.12's `_handle_gpu_memory_settings` reserves 4 GiB for an EAGLE draft (6 for STANDALONE, none for NGRAM);
    0.5.23's memory_hook.py reserves nothing for speculative decoding."""
    base = fit_sglang.default_fraction(140.4, tp=8)
    assert fit_sglang.default_fraction(140.4, tp=8, speculative="eagle") == round(base - 4096 / (140.4 * 1024), 3)
    assert fit_sglang.default_fraction(140.4, tp=8, speculative="ngram") == base
    assert fit_sglang.default_fraction(140.4, tp=8, speculative="eagle", version=(0, 5, 23)) == base


def test_fit_cli_speculative_flag():
    plain = run_cli("fit", "--gpus", "2xH200", "--max-model-len", "262144", "--json").json()
    mtp = run_cli("fit", "--gpus", "2xH200", "--max-model-len", "262144", "--speculative", "mtp", "--json").json()
    assert mtp["weights_gib_per_gpu"] > plain["weights_gib_per_gpu"] and mtp["kv_blocks"] < plain["kv_blocks"]
    assert (mtp["speculative"], mtp["draft_layers"], plain["speculative"]) == ("mtp", 1, None)
    bad = run_cli("fit", "--gpus", "2xH200", "--speculative", "medusa")
    assert bad.code == 2 and "--speculative 'medusa'" in bad.err and "Traceback" not in bad.err


def test_sglang_0521_v41_pools_with_dspark_by_hand():
    """SGLang 0.5.21, DeepSeek-V4.1-Flash: only kv_source_layer_ids own compressed KV (`collect_sources_by_ratio`):
    layers 2, 8, 14 sit at ratio 2 and 20 at ratio 1, each (584 B latent + 68 B fp4 indexer key) / ratio:
    3 x 652 / 2 + 652 = 1,630 B a full token, x 41 / 40 with DSpark's draft worker = 1,670.75 (the boot logs' figure).
    Cap mode, 16 running requests, 4,096-token chunks, 6 draft tokens:
      per request  = 128 + 128 x 6 + 256 + 2 x 6 = 1,164; window tokens = ceil256(1,164 x 16 + 2 x 4,096 + 256 + 64 x 384) = 51,712
      window bytes = 51,712 x 584 B x 40 layers x 41 / 40 = 51,712 x 23,944
      pair state   = (17 x 8 + 8 + 1 -> 146 rows) x 2 x 512 x 4 B x 3 ratio-2 layers (ring 8: the power of two above 2 + 6)."""
    v41 = KB.model("v4.1-flash")
    owners = fit_sglang.v41_owner_layers(v41)
    assert owners == {2: 3, 1: 1}
    assert fit_sglang.bytes_per_full_token_v41(owners, 40) == 1630
    assert fit_sglang.bytes_per_full_token_v41(owners, 40, speculative=True) == 1670.75
    fixed = 51_712 * 23_944 + 146 * 2 * 512 * 4 * 3
    cap = dict(max_running_requests=16, chunk=4096, speculative=True, draft_tokens=6, latent=584, c2_layers=3)
    assert fit_sglang.cap_fixed_bytes(40, 0, 0, **cap) == pytest.approx(fixed)
    kw = dict(gpus=4, gpu_mem_gib=119.7, engine="sglang", tp=4, max_model_len=1_048_576, kv_pool_gib=11.71,
              max_running_requests=16, chunked_prefill_size=4096, num_speculative_tokens=6)
    r = fit(v41, **kw, engine_version="0.5.21", spec_method="dspark")
    assert r.kv_bytes_per_token == 1670.75 and r.fixed_bytes_per_seq == pytest.approx(fixed)
    assert r.kv_tokens_per_pool == int((11.71 * (1 << 30) - fixed) / 1670.75) // 256 * 256  # printed: 6,786,560
    assert abs(r.kv_tokens_per_pool / 6_786_560 - 1) < 0.001
    # 0.5.23 changed the ratio-1/2 layouts (fp4 pages on SM100): not ported, DeepSeek's 890 B/token stands in
    assert fit(v41, **kw, engine_version="0.5.23", spec_method="dspark").kv_bytes_per_token == 890


def test_sglang_launch_cap_flags_reach_the_fit():
    kw = plan(parse_text("python -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp 4 "
                         "--max-running-requests 16 --chunked-prefill-size 4096 --speculative-algorithm DSPARK"))
    assert (kw["max_running_requests"], kw["chunked_prefill_size"], kw["spec_method"]) == (16, 4096, "dspark")


def test_vllm_033_v41_figures_the_docs_quote():
    """docs/fit.md, "V4.1 in vLLM 0.33": the engine's planner on V4.1's Hopper specs (the fixture's `v41` rows) needs
    116,928 B blocks and 18,212 of them for one 1M request (2.3x DeepSeek's 890 B/token); DSpark's 3 draft window
    layers add 261 blocks."""
    v41 = {(r["draft_layers"], r["num_speculative_tokens"], r["max_model_len"]): r
           for r in json.loads((FIXTURES / "vllm-0.33.0-kv-groups.json").read_text())["v41"] if r["block"] == 64}
    plain, dspark = v41[(0, 0, 1_048_576)], v41[(3, 5, 1_048_576)]
    assert plain["bytes_per_block"] == dspark["bytes_per_block"] == 116_928
    assert (plain["blocks_per_request"], dspark["blocks_per_request"]) == (18_212, 18_473)
    assert plain["bytes_per_block"] * plain["blocks_per_request"] / 1_048_576 == pytest.approx(2031, abs=1)
    assert v41[(3, 7, 1_048_576)]["group_layers"][-3:] == [1, 1, 1]  # 16-row rings, one per block
    doc = (FIXTURES.parent.parent / "docs" / "fit.md").read_text()
    assert "116,928 B a 64-token block" in doc and "18,212 blocks" in doc and "18,473 blocks" in doc


def test_vllm_033_v41_port_matches_the_engine():
    """`fit_vllm_v41.plan` on V4.1's buckets gives the engine's bytes per block and blocks per request for every `v41`
    row (Hopper's 64-token blocks; 128-token blocks with the V4 record, SM100's MXFP8 record with the fp8 or MXFP4
    indexer, and NVFP4; no draft / DSpark with 5 or 7 draft tokens; two lengths: 30 rows), and the general port
    reproduces V4's 96 rows too (it is what `fit_vllm.packed_groups` calls)."""
    from v4doctor.launch import fit_sglang, fit_vllm_v41 as v41

    rows = json.loads((FIXTURES / "vllm-0.33.0-kv-groups.json").read_text())["v41"]
    assert {r["block"] for r in rows} == {64, 128} and len(rows) == 30
    for r in rows:
        sm100 = None if r["kv_cache_dtype"].startswith("fp8_ds_mla (") else r["kv_cache_dtype"]
        buckets = v41.v41_buckets(fit_sglang.V41_COMPRESS_RATIOS, [2, 8, 14, 20], draft_layers=r["draft_layers"],
                                  block=r["block"], sm100=sm100, indexer_bytes=r["indexer_bytes"],
                                  spec_tokens=r["num_speculative_tokens"])
        block, groups = v41.plan(buckets)
        assert block == r["bytes_per_block"], r
        assert v41.blocks_per_request(groups, r["max_model_len"], r["in_flight"]) == r["blocks_per_request"], r
    for row, swa, csa, hca in _rows("0.33.0"):
        block, groups = v41.plan(v41.v4_buckets(swa, csa, hca, 132 if row["indexer"] == "fp8" else 68))
        assert (block, v41.blocks_per_request(groups, row["max_model_len"], row["in_flight"])) == \
            (row["bytes_per_block"], row["blocks_per_request"]), row


def test_the_fit_uses_vllms_v41_packing_where_it_is_ported():
    """Hopper: 64-token blocks of 116,928 B; RTX PRO 6000 (SM120): 128-token blocks of 230,400 B; B200 (SM100): the
    528 B MXFP8 record, 212,256 B (rounded up to the window's 528 B block stride); an A100 (no rule) and vLLM before
    0.30 (no V4.1): DeepSeek's 890 B/token."""
    from v4doctor.launch import fit_vllm_v41

    assert [fit_vllm_v41.v41_arch(g) for g in ("H200", "NVIDIA H20-3e", "GH200", "RTX-PRO-6000", "GB10", "B200", "GB300", "A100")] \
        == [(64, False)] * 3 + [(128, False)] * 2 + [(128, True)] * 2 + [None]
    v41 = KB.model("v4.1-flash")
    kw = dict(gpus=8, tp=8, max_model_len=1_048_576, kv_pool_gib=60.0, max_num_batched_tokens=8192)
    h = fit(v41, gpu_mem_gib=140.4, gpu_name="H200", **kw)
    assert h.kv_blocks == int(60 * (1 << 30) // 116_928) and h.max_concurrency == pytest.approx(h.kv_blocks / 18_212)
    d = fit(v41, gpu_mem_gib=140.4, gpu_name="H200", spec_method="dspark", num_speculative_tokens=5, **kw)
    assert (d.draft_layers, d.max_concurrency) == (3, pytest.approx(d.kv_blocks / 18_473))
    assert fit(v41, gpu_mem_gib=95.0, gpu_name="RTX-PRO-6000", **kw).kv_bytes_per_token == 230_400 / 128
    assert fit(v41, gpu_mem_gib=178.4, gpu_name="B200", **kw).kv_bytes_per_token == 212_256 / 128
    assert fit(v41, gpu_mem_gib=80.0, gpu_name="A100", **kw).kv_bytes_per_token == 890
    assert fit(v41, gpu_mem_gib=140.4, gpu_name="H200", engine_version="0.29.0", **kw).kv_bytes_per_token == 890
