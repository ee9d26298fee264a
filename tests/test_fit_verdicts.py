"""The preflight verdicts that follow from the fit (issue #13 item 6): what `run --cmd` says about memory and
layout, read from the findings' text and evidence, on recorded hosts (fixtures/hosts/)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_cases_launch import FLASH, cmd  # noqa: E402

from v4doctor.judge.doctor import judge  # noqa: E402

GGUF = "/models/DeepSeek-V4-Flash-UD-Q4_K_XL-00001-of-00005.gguf"


def _findings(builder, check_id):
    return [f for f in judge(builder(), select=[check_id]).findings if f.id == check_id]


def test_llamacpp_gguf_too_big_for_vram_gets_the_cpu_expert_offload_fix():
    """Not "use more GPUs": keep the experts of N layers in RAM with --n-cpu-moe N. At the model's 1M context no N
    fits a 24 GB card: llama.cpp's compute buffer alone is ~65.5 GiB there (the indexer's scores, unsloth#6940)."""
    [f] = _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} -ngl 99 -c 32768"), "V4D303")
    assert f.severity.value == "error" and "--n-cpu-moe" in f.fix.text and "more GPUs" not in f.fix.text
    n = int(next(e for e in f.evidence if e.startswith("fit.n_cpu_moe_needed=")).split("=")[1])
    assert 0 < n <= 43
    ok = _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} -ngl 99 -c 32768 --n-cpu-moe {n}"), "V4D303")
    assert all(x.severity.value == "ok" for x in ok)
    [full] = _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} -ngl 99"), "V4D303")
    assert full.severity.value == "error" and "smaller context" in full.fix.text


def test_sglang_dp_attention_inside_tp_is_a_valid_8_gpu_layout():
    plan = f"python3 -m sglang.launch_server --model-path {FLASH} --tp 8 --dp 8 --enable-dp-attention"
    assert all(f.severity.value == "ok" for f in _findings(cmd("8xb200", plan), "V4D304"))
    bad = _findings(cmd("8xb200", f"python3 -m sglang.launch_server --model-path {FLASH} --tp 8 --dp 3 --enable-dp-attention"), "V4D304")
    assert bad and bad[0].severity.value == "error" and "divide" in bad[0].title


def test_a_length_that_does_not_fit_names_a_positive_length_and_vllms_lever():
    [f] = _findings(cmd("2xrtxpro6000", f"vllm serve {FLASH} -tp 2 --max-model-len 1048576 --gpu-memory-utilization 0.9"), "V4D302")
    fits = int(next(e for e in f.evidence if e.startswith("fit.max_model_len_fits=")).split("=")[1])
    assert f.severity.value == "error" and 0 < fits < 1_048_576 and "--max-num-batched-tokens" in f.fix.text


def test_a_named_quant_is_judged_at_that_quants_size():
    """`llama-server -hf REPO:QUANT` / `ollama run hf.co/REPO:QUANT`: the UD-IQ1_S file (76.9 GiB), not the repo's Q4."""
    [f] = _findings(cmd("2xrtx4090", "llama-server -hf unsloth/DeepSeek-V4-Flash-GGUF:UD-IQ1_S -ngl 99"), "V4D303")
    per_gpu = float(next(e for e in f.evidence if e.startswith("fit.weights_gib_per_gpu=")).split("=")[1])
    assert "UD-IQ1_S" in f.title and 35 < per_gpu < 40  # 82,539,237,024 B over 2 GPUs
    ram = _findings(cmd("2xrtx4090", "ollama run hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-IQ1_S"), "V4D212")
    assert all(x.severity.value == "ok" for x in ram)  # 76.9 GiB fits 107.6 GiB of RAM + VRAM; the Q4 (144 GiB) does not


def _trtllm(host_name: str, command: str):
    """The recorded host with a trtllm-serve plan, the target's engine set as `run --cmd` sets it from the plan."""
    def build():
        import dataclasses

        from check_cases import host

        from v4doctor.collect.target import split_command

        facts = host(host_name, engine="trtllm")
        facts.target = dataclasses.replace(facts.target, cmd=split_command(command))
        return facts

    return build


def test_trtllm_serve_is_parsed_and_judged():
    """TensorRT-LLM's DeepSeek-V4 path runs on Blackwell (SM100+, examples/models/core/deepseek_v4/README.md) and,
    since NVIDIA/TensorRT-LLM#16940, on Hopper: `trtllm-serve` on an A100 is an error naming TensorRT-LLM, on H200
    it is not; on B200 its layout and memory are judged like the others."""
    plan = f"trtllm-serve {FLASH} --backend pytorch --tp_size 8 --ep_size 8 --max_seq_len 4096 --custom_tokenizer deepseek_v4"
    [arch] = _findings(_trtllm("1xa100-80g", plan.replace("--tp_size 8 --ep_size 8", "--tp_size 1 --ep_size 1")), "V4D111")
    assert arch.severity.value == "error" and "TensorRT-LLM" in arch.title and "Blackwell" in arch.fix.text
    hopper = plan.replace("--tp_size 8 --ep_size 8", "--tp_size 4 --ep_size 4")
    assert all(f.severity.value == "ok" for f in _findings(_trtllm("4xh200", hopper), "V4D111"))
    assert all(f.severity.value == "ok" for f in _findings(_trtllm("8xb200", plan), "V4D111"))
    assert all(f.severity.value == "ok" for f in _findings(_trtllm("8xb200", plan), "V4D304"))
    bad = _findings(_trtllm("8xb200", plan.replace("--tp_size 8", "--tp_size 16")), "V4D304")
    assert bad and bad[0].severity.value == "error"
    from v4doctor.launch import parse_text
    from v4doctor.launch.plan import plan as plan_of

    long_form = plan_of(parse_text(plan.replace("--tp_size", "--tensor_parallel_size") + " --kv_cache_free_gpu_memory_fraction 0.5"))
    assert (long_form["tp"], long_form["ep"], long_form["max_model_len"], long_form["fraction"]) == (8, True, 4096, 0.5)


def test_llamacpp_n_cpu_moe_plan_is_judged_with_the_compute_buffer_at_its_context():
    """`-ngl 99 --n-cpu-moe N` is not waved through as "weights in RAM": what stays on the GPUs plus llama.cpp's compute
    buffer at -c must fit (at 131,072 the indexer's scores alone take 8 GiB a GPU at -ub 512); no-hit: a context and
    N that fit, and `--cpu-moe` / `-ngl` below the layers, which V4D212 judges instead."""
    from v4doctor.launch import parse_text
    from v4doctor.launch.plan import plan as plan_of

    [f] = _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} -ngl 99 --n-cpu-moe 20 -c 131072"), "V4D303")
    assert f.severity.value == "error" and "compute buffer" in f.title
    n = int(next(e for e in f.evidence if e.startswith("fit.n_cpu_moe_needed=")).split("=")[1])
    assert 20 < n <= 43
    ok = _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} -ngl 99 --n-cpu-moe {n} -c 131072"), "V4D303")
    assert all(x.severity.value == "ok" for x in ok)
    for waved in ("--cpu-moe", "-ngl 10"):
        assert all(x.severity.value == "ok" for x in _findings(cmd("2xrtx4090", f"llama-server -m {GGUF} {waved} -c 131072"), "V4D303"))
    kw = plan_of(parse_text(f"llama-server -m {GGUF} -c 4096 -ub 1024 -fa off"))
    assert (kw["n_ubatch"], kw["flash_attn"]) == (1024, False)
    assert "flash_attn" not in plan_of(parse_text(f"llama-server -m {GGUF} -fa auto"))
