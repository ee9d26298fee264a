"""GPU checks: message content for the architecture, busy, MIG and link checks."""

from __future__ import annotations

from check_cases import devices, findings_of, host
from v4doctor.facts import GpuProcess

GIB = 2**30


def test_a100_on_vllm_033_says_no_up_front_check_and_points_to_llamacpp():
    (f,) = findings_of(host("1xa100-80g", engine_version="0.33.0"), "V4D111")
    assert f.severity.value == "error"
    assert "compute capability 8.0" in f.title and "Ampere" in f.title
    assert "no up-front check" in f.detail
    assert "The guide says the hybrid attention kernels need Hopper or Blackwell" in f.detail
    assert any(c.startswith("llama-server -hf unsloth/DeepSeek-V4-Flash-GGUF") for c in f.fix.commands)


def test_sglang_message_has_no_vllm_specific_sentence():
    (f,) = findings_of(host("1xa100-80g", engine="sglang"), "V4D111")
    assert "SGLang" in f.title and "vLLM 0.33" not in f.detail


def test_ada_names_the_fork():
    facts = devices(host("2xrtx4090"), compute_capability="8.9")
    (f,) = findings_of(facts, "V4D111")
    assert "yhfgyyf/vllm-deepseek-v4-sm89" in f.title


def test_mixed_gpus_each_judged():
    facts = host("4xh200")
    facts.gpu.devices[3].compute_capability = "8.0"
    facts.gpu.devices[3].name = "NVIDIA A100-SXM4-80GB"
    (f,) = findings_of(facts, "V4D111")
    assert "1× NVIDIA A100-SXM4-80GB" in f.title


def test_busy_gpu_names_process_and_amount():
    facts = devices(host("4xh200"), processes=[GpuProcess(4242, 40 * GIB, "python")])
    (f,) = findings_of(facts, "V4D112")
    assert "40.00 GiB held by pid 4242 python" in f.title
    assert "CUDA_VISIBLE_DEVICES" in f.fix.text


def test_mig_fix_is_per_gpu_command():
    facts = devices(host("4xh200"), mig_enabled=True)
    (f,) = findings_of(facts, "V4D113")
    assert f.fix.commands == [f"sudo nvidia-smi -i {i} -mig 0" for i in range(4)]


def test_p2p_warning_lists_pairs():
    (f,) = findings_of(host("2xrtx4090"), "V4D115")
    assert "0↔1" in f.title and "nvidia-smi topo -m" in f.fix.commands
