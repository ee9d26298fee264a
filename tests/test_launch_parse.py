"""Launch-spec parsers: every way V4 is started, the guide's own files, bad input, and fuzzing."""

from __future__ import annotations

import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v4doctor.errors import UsageError
from v4doctor.launch import parse_command, parse_compose, parse_text, parse_vllm_config, render_compose, with_config

LAUNCH = FIXTURES / "launch"
FLASH = "deepseek-ai/DeepSeek-V4-Flash"


def test_guide_option_b_flash_compose():
    spec = parse_compose((LAUNCH / "guide-option-b-flash.yaml").read_text())
    assert (spec.engine, spec.model, spec.image, spec.service) == ("vllm", FLASH, "vllm/vllm-openai:latest", "vllm")
    assert spec.flags["tensor-parallel-size"] == "1" and spec.flags["max-model-len"] == "131072"
    assert spec.flags["trust-remote-code"] is True and spec.flags["enable-chunked-prefill"] is True
    assert (spec.gpus, spec.shm_size, spec.ipc, spec.kind) == ("all", "16gb", None, "compose")


def test_guide_option_b_pro_compose():
    spec = parse_compose((LAUNCH / "guide-option-b-pro.yaml").read_text())
    assert spec.model == "deepseek-ai/DeepSeek-V4-Pro" and spec.flags["tensor-parallel-size"] == "8"
    assert spec.flags["served-model-name"] == "deepseek-v4-pro" and spec.flags["enable-prefix-caching"] is True


@pytest.mark.parametrize("fixture,model,tp", [("guide-option-c-flash.sh", FLASH, "1"), ("guide-option-c-pro.sh", "deepseek-ai/DeepSeek-V4-Pro", "8")])
def test_guide_option_c_sglang_snippets(fixture, model, tp):
    spec = parse_text((LAUNCH / fixture).read_text())
    assert (spec.engine, spec.model, spec.flags["tp-size"]) == ("sglang", model, tp)
    assert spec.launcher == ("python3", "-m", "sglang.launch_server") and spec.flags["enable-torch-compile"] is True


def test_guide_option_a_ollama_and_llama_server_in_docker():
    text = (LAUNCH / "guide-option-a.sh").read_text()
    spec = parse_text(text)  # `ollama pull` is a download; the `ollama run` after it is the launch
    assert (spec.engine, spec.model, spec.launcher) == ("ollama", "hf.co/unsloth/DeepSeek-V4-Flash-GGUF:Q4_K_M", ("ollama", "run"))
    assert parse_text("ollama pull x").launcher == ("ollama", "pull")
    llama = parse_text(text.split("# Or with")[1])
    assert (llama.engine, llama.model, llama.image, llama.gpus) == ("llamacpp", "/models/DeepSeek-V4-Flash-Q4_K_M.gguf", "ghcr.io/ggerganov/llama.cpp:server-cuda", "all")
    assert llama.flags["gpu-layers"] == "99" and llama.flags["ctx-size"] == "65536"


def test_vllm_forms_equal_spellings_and_env():
    text = ("export CUDA_VISIBLE_DEVICES=0,1\nexport NCCL_DEBUG=INFO\n"
            f"VLLM_USE_DEEP_GEMM=0 HF_HUB_OFFLINE=1 vllm serve {FLASH} \\\n  -tp 2 --max_model_len=4096 \\\n  --no-enable-prefix-caching --served-model-name a b")
    spec = parse_text(text)
    assert spec.env == {"CUDA_VISIBLE_DEVICES": "0,1", "NCCL_DEBUG": "INFO", "VLLM_USE_DEEP_GEMM": "0", "HF_HUB_OFFLINE": "1"}
    assert spec.flags == {"tensor-parallel-size": "2", "max-model-len": "4096", "enable-prefix-caching": False, "served-model-name": ["a", "b"]}
    assert spec.model_positional and spec.argv()[:3] == ["vllm", "serve", FLASH]


def test_python_module_api_server_and_dotted_config_flags():
    spec = parse_command(["python", "-m", "vllm.entrypoints.openai.api_server", "--model", FLASH,
                          "--attention-config.indexer_kv_dtype=mxfp4", "-ac", '{"backend": "X"}'])
    assert spec.engine == "vllm" and spec.model == FLASH and not spec.model_positional
    assert spec.flags["attention-config.indexer_kv_dtype"] == "mxfp4" and spec.flags["attention-config"] == '{"backend": "X"}'


def test_docker_run_options_and_engine_from_image_tag():
    spec = parse_text(f"docker run --gpus '\"device=0,1\"' --shm-size=32g --ipc host -e HF_TOKEN=hf_x "
                      f"-v /data:/data lmsysorg/sglang:deepseek-v4-hopper python3 -m sglang.launch_server --model-path {FLASH} --tp-size 2")
    assert (spec.engine, spec.image, spec.shm_size, spec.ipc, spec.gpus) == ("sglang", "lmsysorg/sglang:deepseek-v4-hopper", "32g", "host", '"device=0,1"')
    assert spec.env["HF_TOKEN"] == "hf_x" and spec.flags["tp-size"] == "2"


def test_llama_server_hf_and_ollama_run():
    spec = parse_command(["llama-server", "-hf", "unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL", "-c", "32768", "--jinja"])
    assert spec.engine == "llamacpp" and spec.model.startswith("unsloth/") and spec.flags["jinja"] is True
    run = parse_command(["ollama", "run", "hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL"])
    assert run.engine == "ollama" and run.model_positional


def test_vllm_config_file_merges_under_the_command_line():
    spec = parse_command(["vllm", "serve", FLASH, "--config", "cfg.yaml", "--max-model-len", "8192"])
    merged = with_config(spec, "max_model_len: 65536\ntensor-parallel-size: 4\nenable-prefix-caching: false\n")
    assert merged.flags["max-model-len"] == "8192" and merged.flags["tensor-parallel-size"] == "4"
    assert merged.flags["enable-prefix-caching"] is False and merged.config_file == "cfg.yaml"
    assert [a.name for a in parse_vllm_config("kv-cache-dtype: fp8\n")] == ["kv-cache-dtype"]


def test_compose_list_command_and_environment_list():
    text = ("services:\n  api:\n    image: vllm/vllm-openai:v0.33.0\n    environment:\n      - VLLM_USE_DEEP_GEMM=0\n"
            f"    command: [\"--model\", \"{FLASH}\", \"--tensor-parallel-size\", \"2\"]\n    ipc: host\n")
    spec = parse_compose(text)
    assert spec.flags == {"model": FLASH, "tensor-parallel-size": "2"} and spec.env == {"VLLM_USE_DEEP_GEMM": "0"}
    out = render_compose(text, spec.with_flag("tensor-parallel-size", "4"))
    assert '"--tensor-parallel-size", "4"' in out.replace("'", '"') or "- '4'" in out or "4" in out
    assert parse_compose(out).flags["tensor-parallel-size"] == "4"


def test_compose_round_trip_keeps_comments_and_order():
    text = (LAUNCH / "guide-option-b-flash.yaml").read_text()
    spec = parse_compose(text)
    assert render_compose(text, spec) == text
    out = render_compose(text, spec.with_flag("max-model-len", "65536").with_container(ipc="host"))
    assert out.splitlines()[0].startswith("# Source:") and "  hf_cache:" in out
    changed = [line for line in out.splitlines() if line not in text.splitlines()]
    assert changed == ["      --max-model-len 65536", "    ipc: host"]


@pytest.mark.parametrize("text,message", [
    (f"vllm serve {FLASH} --max-model-len", "missing its value"),
    ("python3 -m sglang.launch_server --model-path", "missing its value"),
    ("mystery-engine --model x", "cannot tell the engine"),
    ("docker run -it busybox sh", "cannot tell the engine of image"),
    ("echo hello", "cannot tell the engine"),
    ("export A=1\n# nothing else", "no launch command found"),
    ("vllm serve 'unterminated", "cannot parse"),
])
def test_bad_commands_are_one_line_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_text(text)


@pytest.mark.parametrize("text,message", [
    ("a: 1\n", "not a docker-compose file"),
    ("services:\n  web:\n    image: nginx\n", "no engine service"),
    ("services: [\n", "not valid YAML"),
    ("- just\n- a list\n", "not a docker-compose file"),
])
def test_bad_compose_is_a_usage_error(text, message):
    with pytest.raises(UsageError, match=message):
        parse_compose(text)


# --------------------------------------------------------------------------- fuzzing (bounded)
_TOKENS = st.sampled_from(["vllm", "serve", "--max-model-len", "-tp", "2", "=", "--x=1", "\\\n", "'", '"', "export", "A=1",
                           "docker", "run", "--gpus", "all", "vllm/vllm-openai:v0.33.0", "&&", ";", "#", "--no-enable-prefix-caching",
                           "python3", "-m", "sglang.launch_server", "--model-path", "llama-server", "-m", "ollama", "run", " ", "\n"])
_FUZZ = settings(max_examples=150, deadline=500, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.lists(_TOKENS, max_size=25).map(" ".join) | st.text(max_size=200))
def test_fuzz_parse_text_never_crashes(text):
    try:
        spec = parse_text(text)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert spec.engine in ("vllm", "sglang", "llamacpp", "ollama")
    spec.to_dict()


@_FUZZ
@given(st.text(max_size=300) | st.builds(lambda c: f"services:\n  s:\n    image: vllm/vllm-openai\n    command: {c}\n", st.text(max_size=80)))
def test_fuzz_parse_compose_never_crashes(text):
    try:
        parse_compose(text)
    except UsageError:
        pass


def test_compose_entrypoint_launcher_stays_in_the_entrypoint():
    text = ("services:\n  sglang:\n    image: lmsysorg/sglang:latest\n"
            "    entrypoint: [\"python3\", \"-m\", \"sglang.launch_server\"]\n"
            f"    command: --model-path {FLASH} --tp-size 4   # four H200\n")
    spec = parse_compose(text)
    assert spec.engine == "sglang" and spec.model == FLASH and spec.launcher == ()
    out = render_compose(text, spec.with_flag("tp-size", "8"))
    assert "entrypoint: [\"python3\", \"-m\", \"sglang.launch_server\"]" in out and "sglang.launch_server" not in out.split("command:")[1]
    assert parse_compose(out).flags["tp-size"] == "8"


@settings(max_examples=30, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["max-model-len", "tensor-parallel-size", "kv-cache-dtype", "block-size", "served-model-name"]),
                          st.from_regex(r"[a-z0-9_.]{1,12}", fullmatch=True)), max_size=4))
def test_fuzz_compose_edits_round_trip(edits):
    text = (LAUNCH / "guide-option-b-flash.yaml").read_text()
    spec = parse_compose(text)
    for name, value in edits:
        spec = spec.with_flag(name, value)
    out = render_compose(text, spec)
    assert parse_compose(out).flags == spec.flags
    assert out.startswith("# Source:") and out.count("\n") >= text.count("\n")


def test_engine_env_keeps_the_variables_that_change_a_start():
    spec = parse_text(f"export PATH=/x:$PATH\nCUDA_VISIBLE_DEVICES=0,1 NCCL_P2P_DISABLE=1 EDITOR=vi vllm serve {FLASH}")
    assert spec.to_dict()["engine_env"] == {"CUDA_VISIBLE_DEVICES": "0,1", "NCCL_P2P_DISABLE": "1"}


@pytest.mark.parametrize("cmd,flags", [
    ("-O3", {"optimization-level": "3"}),  # vLLM's FlexibleArgumentParser rewrites -O3 / -O=3 / -O 3
    ("-O=2", {"optimization-level": "2"}),
    ("-O 1", {"optimization-level": "1"}),
    ("-cc.mode=3", {"compilation-config.mode": "3"}),
    ("--compilation-config.cudagraph_mode FULL", {"compilation-config.cudagraph_mode": "FULL"}),
    ("-ac.indexer_kv_dtype=mxfp4", {"attention-config.indexer_kv_dtype": "mxfp4"}),
])
def test_vllm_short_and_dotted_forms(cmd, flags):
    from v4doctor.launch.validate import validate

    spec = parse_text(f"vllm serve {FLASH} {cmd}")
    assert spec.flags == flags and validate(spec, "0.33.0") == []
