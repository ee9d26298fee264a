"""`v4doctor fit` as a new user types it (issue #13): layouts that do not match the GPUs, SGLang's DP attention,
the engine memory settings, GPUs matched by whole name, checkpoints the issue found unanswered."""

from __future__ import annotations

from conftest import run_cli


def _json(*argv):
    r = run_cli("fit", *argv, "--json")
    return r.code, r.json()


def test_tp16_on_8_gpus_is_an_error_not_fits():
    code, j = _json("--gpus", "8xH100", "--tp", "16")
    assert code == 1 and not j["fits"] and "needs 16 GPUs" in j["layout_error"] and j["gpus_used"] == 16


def test_sglang_tp8_dp8_with_dp_attention_is_8_gpus():
    code, j = _json("--gpus", "8xH200", "--tp", "8", "--dp", "8", "--enable-dp-attention", "--engine", "sglang")
    assert code == 0 and j["layout_error"] is None and j["gpus_used"] == 8 and j["kv_pools"] == 8
    assert j["kv_bytes_per_token"] == 15955.85  # SGLang's own figure, not vLLM's 3,915 B


def test_json_has_max_concurrency_and_estimated_max_model_len():
    _, j = _json("--gpus", "2xH200", "--max-model-len", "262144")
    assert j["max_concurrency"] > 1 and j["estimated_max_model_len"] == 1_048_576 and j["in_flight_tokens"] == 8192


def test_async_scheduling_doubles_the_in_flight_tokens_and_shrinks_concurrency():
    _, sync = _json("--gpus", "2xH200", "--max-model-len", "262144")
    _, two = _json("--gpus", "2xH200", "--max-model-len", "262144", "--async-scheduling")
    assert two["in_flight_tokens"] == 2 * sync["in_flight_tokens"] and two["max_concurrency"] < sync["max_concurrency"]


def test_engine_version_picks_the_accounting():
    _, old = _json("--gpus", "2xH200", "--engine-version", "0.26.0")
    _, new = _json("--gpus", "2xH200", "--engine-version", "0.33.0")
    assert old["engine_version"] == "0.26.0" and old["kv_bytes_per_token"] > new["kv_bytes_per_token"]  # one more page a block before 0.30


def test_h20_3e_is_not_an_h20():
    _, h20 = _json("--gpus", "2xH20")
    _, h20e = _json("--gpus", "2xH20-3e")
    assert h20["gpu"] == "H20" and h20e["gpu"] == "H20-3e" and h20e["gpu_mem_gib"] > 1.4 * h20["gpu_mem_gib"]


def test_checkpoints_the_issue_found_unanswered_get_an_answer():
    for model, gpus in (("flash-dspark", "4xH200"), ("v4.1-flash", "8xB200"), ("flash-fp8", "4xH200")):
        r = run_cli("fit", "--model", model, "--gpus", gpus, "--json")
        assert r.code in (0, 1) and r.json()["weights_gib_per_gpu"] > 0, model
    r = run_cli("fit", "--gpus", "2xRTX-A6000", "--model", "flash", "--json")
    assert r.code == 1 and r.json()["gpu"] == "RTX-A6000"


def test_llamacpp_names_the_cpu_expert_offload():
    code, j = _json("--model", "unsloth-flash-gguf", "--gpus", "2xRTX-4090", "--max-model-len", "65536")
    assert code == 1 and j["n_cpu_moe_needed"] and 0 < j["n_cpu_moe_needed"] <= 43
    code, ok = _json("--model", "unsloth-flash-gguf", "--gpus", "2xRTX-4090", "--max-model-len", "65536", "--n-cpu-moe", str(j["n_cpu_moe_needed"]))
    assert ok["weights_fit"] and ok["weights_gib_per_gpu"] < j["weights_gib_per_gpu"]
