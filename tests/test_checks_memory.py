"""Memory and disk checks: the arithmetic, the alternatives offered, and the guide's claims."""

from __future__ import annotations

from check_cases import host, one_finding, system
from v4doctor.facts import DiskFacts, HubFacts

GIB = 2**30


def test_pro_on_8xh100_names_sizes_flash_and_bigger_hardware():
    f = one_finding(host("8xh100-80g", model="pro"), "V4D210")
    assert "805.35 GiB" in f.title and "8× NVIDIA H100 80GB HBM3" in f.title
    assert "DeepSeek-V4-Flash (148.66 GiB) fits this host" in f.fix.text
    assert "8× NVIDIA H200" in f.fix.text and "8× NVIDIA B200" in f.fix.text
    assert "The guide says V4-Pro runs on 8× H100 80GB" in f.detail
    assert f.fix.commands == ["v4doctor run --model flash"]


def test_pro_on_4xh200_contradicts_the_guide():
    f = one_finding(host("4xh200", model="pro"), "V4D210")
    assert "The guide says V4-Pro runs on 4× H200 141GB" in f.detail


def test_flash_on_one_a100_quotes_the_guide_and_offers_offload():
    f = one_finding(host("1xa100-80g"), "V4D210")
    assert "the guide says flash fits one a100 80gb at fp8" in f.detail.lower()
    assert "~149 GiB" in f.detail and "do not support A100" in f.detail
    assert "llama.cpp with the GGUF unsloth/DeepSeek-V4-Flash-GGUF" in f.fix.text
    assert "4× NVIDIA H100 80GB (SXM)" in f.fix.text  # the smallest H100 setup reported working
    assert "smaller checkpoint" not in f.fix.text  # nothing official fits one A100


def test_disk_counts_cached_bytes_on_the_cache_disk():
    facts = system(host("8xb200"), disks=[DiskFacts("/data/hf", free_bytes=20 * GIB, total_bytes=10 * 10**12)])
    facts.hub = HubFacts(token_configured=False, token_source="none", cache_dir="/data/hf", offline=False, hf_xet=True,
                         hf_transfer=False, cached_bytes=140 * GIB)
    assert one_finding(facts, "V4D211").severity.value == "ok"  # 8.66 GiB left to fetch + 10 GiB headroom < 20 GiB
    facts.hub.cache_dir = "/elsewhere"
    f = one_finding(facts, "V4D211")
    assert f.severity.value == "error" and "148.66 GiB more" in f.title


def test_disk_for_llamacpp_is_the_gguf():
    f = one_finding(system(host("laptop-nogpu", engine="llamacpp"), disks=[DiskFacts("/home", 100 * GIB, 500 * GIB)]), "V4D211")
    assert "hf download unsloth/DeepSeek-V4-Flash-GGUF --include '*UD-Q4_K_XL*' --local-dir /path/with/space" in f.fix.commands
    assert "144.44 GiB" in f.detail


def test_offload_suggests_quants_that_fit_and_quotes_the_guide():
    f = one_finding(host("2xrtx4090", engine="llamacpp"), "V4D212")
    assert "UD-IQ3_XXS" in f.fix.text and "UD-Q4_K_XL" not in f.fix.text and "antirez" not in f.fix.text
    assert f.fix.commands == ["hf download unsloth/DeepSeek-V4-Flash-GGUF --include '*UD-IQ3_XXS*' --local-dir /path/with/space"]
    assert "The guide says V4-Flash runs comfortably on 2× RTX 4090" in f.detail


def test_pro_to_flash_fixer_is_offered_when_flash_fits():
    assert one_finding(host("8xh100-80g", model="pro"), "V4D210").fix.fixers == ["fix-pro-to-flash"]
    assert one_finding(host("1xa100-80g"), "V4D210").fix.fixers == []
