"""Engine checks: floors by checkpoint and GPU family, transformers, regressions, GGUF vs safetensors."""

from __future__ import annotations

import pytest

from check_cases import host, one_finding, packages
from v4doctor_checks._host import parse_version, split_cuda_tag, version_lt


@pytest.mark.parametrize("text,expected", [
    ("0.20.0+cu129", ("0.20.0", "12.9")), ("v0.26.0-cu129", ("0.26.0", "12.9")), ("0.33.0", ("0.33.0", None)),
    ("0.20.0+cu130", ("0.20.0", "13.0")),
])
def test_split_cuda_tag(text, expected):
    assert split_cuda_tag(text) == expected


def test_version_compare_schemes():
    assert version_lt("b9000", "b9840") is True and version_lt("b9840", "b9840") is False
    assert version_lt("0.26.1rc1", "0.25.0") is False and version_lt("0.19.1", "0.20.0") is True
    assert version_lt("b9840", "0.20.0") is None and parse_version("not a version") is None


def test_floor_message_quotes_the_guide():
    f = one_finding(host("8xh100-80g", engine_version="0.7.3"), "V4D201")
    assert f.title == "vLLM 0.7.3 is too old for DeepSeek-V4-Flash: it needs ≥ 0.20.0"
    assert "The guide says V4 needs vLLM ≥ 0.7.0" in f.detail
    assert f.fix.commands == ["pip install -U 'vllm>=0.20.0'"]


def test_the_highest_applicable_floor_wins():
    f = one_finding(host("2xrtxpro6000", model="flash-0731", engine_version="0.23.0"), "V4D201")
    assert "0.25.0" in f.title  # DSpark (0.25.0) beats SM120 (0.24.0)


def test_unparseable_version_is_skipped_not_ok():
    f = one_finding(host("8xh100-80g", engine_version="nightly"), "V4D201")
    assert f.severity.value == "skipped" and "nightly" in f.detail


def test_transformers_fix_is_a_pin_range():
    f = one_finding(packages(host("8xh100-80g"), transformers="5.8.1"), "V4D202")
    assert f.fix.commands == ["pip install 'transformers>=5.16.1,<5.21.0'"]


def test_regression_fix_is_the_env_var():
    f = one_finding(host("8xh100-80g", engine_version="0.27.0"), "V4D203")
    assert "TORCH_SYMM_MEM_DISABLE_MULTICAST=1" in f.fix.text


def test_gguf_to_vllm_names_the_safetensors_repo():
    f = one_finding(host("8xh100-80g", model="unsloth/DeepSeek-V4-Flash-GGUF"), "V4D204")
    assert "deepseek-ai/DeepSeek-V4-Flash" in f.fix.text and "deepseek2" in f.detail
