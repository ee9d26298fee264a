"""Issue #13 item 4, part 2: the GPU families, AMD GPUs, GGUF, model, engine and guide-claim records re-checked
against their public sources (each carries a dated `rechecked` line saying what was opened). The corrections the
re-check made are held here so a later edit cannot quietly undo them."""

from __future__ import annotations

import re

import pytest

from v4doctor.knowledge.kb import load
from v4doctor.knowledge.quants import with_quant

KB = load()
MIB = 2**20

PART2 = [
    ("gpu_family", "key", k) for k in
    ("hopper", "blackwell-dc", "blackwell-consumer", "ada", "ampere", "turing", "volta", "cdna3", "cdna4")
] + [("gpu", "key", "MI325X"), ("gpu", "key", "MI355X"), ("gpu", "key", "GH200")] + [
    ("gguf_arch", "arch", "deepseek41"), ("gguf_arch", "arch", "deepseek2"),
    ("gguf_sidecar", "kind", "mtp"), ("gguf_sidecar", "kind", "dspark"),
] + [("gguf_source", "id", i) for i in ("bartowski", "ggml-org", "antirez-ds4", "teamblobfish", "pre-merge")] + [
    ("model", "key", k) for k in ("redhat-flash-nvfp4-fp8", "unsloth-flash-0731-gguf", "bartowski-flash-gguf",
                                  "teamblobfish-flash-gguf")
] + [("engine_floor", "id", "llamacpp-v41"), ("engine_cuda", "engine", "vllm"), ("image", "name", "lmsysorg/sglang:dev"),
     ("guide_claim", "id", "vllm-0.7"), ("guide_claim", "id", "trust-remote-code")]


def _record(kind: str, field: str, value: str) -> dict:
    [rec] = [r for r in KB.records(kind) if r.get(field) == value]
    return rec


@pytest.mark.parametrize("kind,field,value", PART2, ids=lambda x: x)
def test_every_part2_record_says_what_was_opened(kind, field, value):
    rec = _record(kind, field, value)
    assert re.match(r"^2026-12-03: \S", rec.get("rechecked", "")), (kind, value)
    assert rec["sources"] and all(s.startswith(("https://", "http://", "code index:")) for s in rec["sources"])


def test_tensorrt_llm_runs_v4_flash_on_hopper_since_16940_and_nothing_older():
    """TensorRT-LLM#16940 (on main 2026-08-28) added SM90; its README had said Blackwell only. Pro stays off SM90."""
    hopper = _record("gpu_family", "key", "hopper")
    assert hopper["trtllm"] == "upstream" and "Pro" in hopper["trtllm_note"]
    assert "https://github.com/NVIDIA/TensorRT-LLM/pull/16940" in hopper["sources"]
    for key in ("ada", "ampere", "turing", "volta"):
        family = _record("gpu_family", "key", key)
        assert family["trtllm"] == "never" and "#16940" in family["trtllm_note"], key


@pytest.mark.parametrize("key", ["turing", "volta"])
def test_the_sm80_minimum_is_attributed_to_the_fork_not_upstream(key):
    """1Cat-vLLM#82 speaks for its own fork; upstream vLLM 0.33 lacks a V4 attention backend below 9.0."""
    note = _record("gpu_family", "key", key)["note"]
    assert "1Cat-vLLM" in note and "attention backend" in note


@pytest.mark.parametrize("name,family,cc,runtime_bytes,spec_gib", [
    ("AMD Instinct MI325X", "cdna3", "9.4", 274_542_362_624, 256),  # sysfs mem_info_vram_total, a real MI325X
    ("AMD Instinct MI355X", "cdna4", "9.5", 308_902_100_992, 288),  # rocm-smi VRAM Total Memory (B), gfx950
    ("AMD Instinct MI300X", "cdna3", "9.4", 205_822_885_888, 192),  # part 1 of the re-check
])
def test_amd_runtime_memory_is_320_mib_under_the_spec(name, family, cc, runtime_bytes, spec_gib):
    """The three AMD readings found sit exactly 320 MiB under the spec's GiB, the same reserve on each part."""
    rec = KB.gpu(name)
    assert (rec["family"], rec["compute_capability"], rec["memory_bytes_nvml"]) == (family, cc, runtime_bytes)
    assert rec["memory_gib"] * 2**30 - rec["memory_bytes_nvml"] == 320 * MIB


def test_gh200_96gb_carries_nvml_memory_and_stays_apart_from_the_144gb_part():
    """docs/fit.md: vllm#44376 ran '2 GH200 GPUs (96 GB each)'; nvidia-smi prints 97,871 MiB for 'NVIDIA GH200 480GB'."""
    small, big = KB.gpu("NVIDIA GH200 480GB"), KB.gpu("NVIDIA GH200 144G HBM3e")
    assert small["key"] == "GH200" and small["memory_bytes_nvml"] == 97871 * MIB == KB.gpu("NVIDIA H20")["memory_bytes_nvml"]
    assert big["key"] == "GH200-144GB" and big["memory_bytes_nvml"] == 146831 * MIB


@pytest.mark.parametrize("name,fork_only", [
    ("DeepSeek-V4-Flash-IQ1_S-XL-00001-of-00002.gguf", True),   # missed before the re-check
    ("DeepSeek-V4-Flash-IQ2_XXS-XL-00001-of-00002.gguf", True),
    ("DeepSeek-V4-Flash-Q4_K_M-XL-00001-of-00004.gguf", True),
    ("DeepSeek-V4-Flash-Q2_K-XL-00002-of-00003.gguf", True),
    ("DeepSeek-V4-Flash-UD-Q4_K_XL-00001-of-00005.gguf", False),  # Unsloth's _XL, mainline
    ("DeepSeek-V4-Flash-UD-IQ1_S-00001-of-00003.gguf", False),
    ("DeepSeek-V4-Flash-Q4_K_S.gguf", False),
])
def test_teamblobfish_file_names(name, fork_only):
    source = _record("gguf_source", "id", "teamblobfish")
    assert bool(re.search(source["filename_regex"], name)) is fork_only


def test_teamblobfish_quants_resolve_to_their_published_sizes_and_keep_the_provenance_problem():
    repo = KB.model("teamblobfish-flash-gguf")
    smallest = with_quant(repo, "iq1_s-xl")
    assert smallest["disk_bytes"] == 61_540_800_288 and smallest["provenance_problem"]
    assert with_quant(repo, "Q4_K_M-XL")["size_unknown"]


def test_v41_gguf_loader_is_ik_llama_cpp_2455_and_mainline_has_none():
    arch = _record("gguf_arch", "arch", "deepseek41")
    assert arch["llamacpp_min_build"] == 0
    assert "https://github.com/ikawrakow/ik_llama.cpp/pull/2455" in arch["sources"]
    assert _record("engine_floor", "id", "llamacpp-v41")["max_supported"] == "none"


def test_no_unconfirmed_vllm_pr_number_in_the_v4_floor():
    """No source read confirms '#40860'; the floor rests on the 0.19.1 / 0.20.0 wheels."""
    claim = _record("guide_claim", "id", "vllm-0.7")
    floor = _record("engine_floor", "id", "vllm-v4")
    assert "#40860" not in claim["truth"] and "#40860" not in floor["reason"] and floor["min"] == "0.20.0"


def test_redhat_nvfp4_fp8_says_it_has_no_mtp_weights():
    assert "MTP" in KB.model("redhat-flash-nvfp4-fp8")["note"]
