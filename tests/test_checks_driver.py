"""Driver checks: what the findings say, beyond their severity (tests/check_cases.py has the table)."""

from __future__ import annotations

from check_cases import driver, host, one_finding, packages


def test_old_driver_names_values_floor_and_cu129_way_out():
    f = one_finding(host("driver570-vllm020-cu130"), "V4D102")
    assert "570.172.08" in f.title and "CUDA 12.8" in f.title and "13.0" in f.title
    assert "580.65.06" in f.detail and "R580" in f.fix.text
    assert "vllm/vllm-openai:deepseekv4-cu129" in " ".join(f.fix.commands)
    assert "--torch-backend=cu129" in " ".join(f.fix.commands)
    assert "The guide says CUDA 12.4+" in f.detail  # the guide's claim beside upstream
    assert f.troubleshooting == "driver-too-old-cuda13"


def test_vllm_kernels_need_cuda13_even_with_a_cu128_torch():
    """vLLM 0.20's own _C links libcudart 13: a cu128 torch does not make it run on R570."""
    facts = host("driver570-vllm020-cu130")
    facts.python.torch_cuda = "12.8"
    f = one_finding(facts, "V4D102")
    assert f.severity.value == "error" and "ships CUDA 13.0 builds" in f.title


def test_torch_build_decides_for_sglang():
    facts = packages(driver(host("8xh100-80g", engine="sglang"), "570.172.08", "12.8"), torch="2.9.1")
    facts.python.torch_cuda = "12.9"
    assert one_finding(facts, "V4D102").severity.value == "ok"
    facts.python.torch_cuda = "13.0"
    assert one_finding(facts, "V4D102").severity.value == "error"


def test_no_gpu_for_vllm_says_why_and_offers_llamacpp():
    f = one_finding(host("laptop-nogpu"), "V4D101")
    assert "libnvidia-ml not found" in f.title
    assert any("llamacpp" in c for c in f.fix.commands)
