"""The reader (prefixes, ANSI, long lines, bad bytes) and LogFacts extraction, on real log lines."""

from __future__ import annotations

import io

import pytest

from tests.conftest import LOGS
from v4doctor.logs import diagnose_file, diagnose_text
from v4doctor.logs.reader import MAX_LINE, chunks_from_binary, clean_line

# (raw line as posted in a public issue, the message diagnose matches on)
PREFIXES = [
    ("(APIServer pid=1) INFO 08-07 23:22:59 [launcher.py:46] Route: /generative_scoring, Methods: POST", "Route: /generative_scoring, Methods: POST"),
    ("vllm  | (Worker_TP0_EP0 pid=407) ERROR 04-24 18:37:45 [multiproc_executor.py:971] RuntimeError: Assertion error (x): Unsupported architecture",
     "RuntimeError: Assertion error (x): Unsupported architecture"),
    ("(EngineCore_DP0 pid=12473) ERROR 11-05 12:19:32 [core.py:708]   File \"llama.py\", line 537, in __init__", "File \"llama.py\", line 537, in __init__"),
    ("(VllmWorker rank=5 pid=3073)   File \"process.py\", line 314, in _bootstrap", "File \"process.py\", line 314, in _bootstrap"),
    ("2024-07-31T17:09:32.375215459+08:00 [rank0]: ValueError: Model architectures", "ValueError: Model architectures"),
    ("[rank3]: torch.OutOfMemoryError: CUDA out of memory.", "torch.OutOfMemoryError: CUDA out of memory."),
    ("[2025-03-07 09:25:11 TP1] Load weight end. type=DeepseekV3ForCausalLM", "Load weight end. type=DeepseekV3ForCausalLM"),
    ("[2026-05-01 15:16:08] INFO server_args.py:1215: Use nsa attention backend", "INFO server_args.py:1215: Use nsa attention backend"),
    ("INFO 04-19 17:25:10 api_server.py:149] vLLM API server version 0.4.0.post1", "vLLM API server version 0.4.0.post1"),
    ("0.00.998.066 I llama_model_loader: - kv   8: general.quantized_by str = Unsloth", "llama_model_loader: - kv   8: general.quantized_by str = Unsloth"),
    ("\x1b[32mINFO\x1b[0m 04-24 10:11:12 [file.py:123] message", "message"),
    ("deepseek-v3_2-exp  | (APIServer pid=145)     super().__init__(", "super().__init__("),
]
# no-hit rows: text that only looks like a prefix must stay
KEPT = [
    "| NVIDIA-SMI 470.86       Driver Version: 470.86       CUDA Version: 11.4",  # nvidia-smi table, not a compose prefix
    "Error: unsupported architecture \"DeepseekV3ForCausalLM\"",  # a message, not a level prefix
    "ValueError: To serve at least one request with the model's max seq len (30000)",
]


@pytest.mark.parametrize("raw, message", PREFIXES)
def test_prefixes_are_stripped(raw, message):
    assert clean_line(raw) == message


@pytest.mark.parametrize("raw", KEPT)
def test_messages_are_kept(raw):
    assert clean_line(raw) == raw


def test_vllm_facts_from_a_real_start_up():
    f = diagnose_file(open(LOGS / "healthy-vllm-dp8-b200-banner.log", "rb")).facts
    assert (f.engine, f.engine_version) == ("vllm", "0.25.0")
    assert f.model.endswith("7872f01b1d1fe23eabc4c98b48bffcef5a386062")
    assert f.args["data_parallel_size"] == 8 and f.args["served_model_name"] == ["deepseek-v4-flash-0731"]
    assert "attention_config" not in f.args  # a repr that is not a literal is left out, not guessed
    assert f.lines["engine_version"] == 4


def test_memory_lines():
    f = diagnose_file(open(LOGS / "healthy-vllm-kv-cache-report.log", "rb")).facts
    assert f.memory == {
        "kv_cache_available": "11.33 GiB",
        "kv_cache_tokens": "807,792 tokens",
        "max_concurrency": "Maximum concurrency for 1,024 tokens per request: 788.86x",
    }
    line = "(VllmWorkerProcess pid=282) INFO 03-22 18:52:52 [model_runner.py:1146] Model loading took 19.5904 GB and 724.575245 seconds"
    assert diagnose_text(line).facts.memory == {"model_loading": "19.5904 GB"}  # vllm#15340


@pytest.mark.parametrize(
    "line, engine, version",
    [
        ("INFO 03-17 04:59:18 [api_server.py:972] vLLM API server version 0.7.4.dev497+ga73e183e", "vllm", "0.7.4.dev497+ga73e183e"),  # vllm#14925
        ("main: build = 3030 (504f0c34)", "llamacpp", "b3030"),  # llama.cpp#7519
        ("build_info: b8943-4866913c2", "llamacpp", "b8943"),  # llama.cpp#22319
    ],
)
def test_engine_and_version(line, engine, version):
    f = diagnose_text(line).facts
    assert (f.engine, f.engine_version) == (engine, version)


def test_sglang_server_args():
    # sglang#3451
    line = ("[2025-02-09 20:33:04] server_args=ServerArgs(model_path='deepseek-ai/DeepSeek-V2-Lite', tokenizer_path='deepseek-ai/DeepSeek-V2-Lite', "
            "tokenizer_mode='auto', load_format='auto', trust_remote_code=True, dtype='auto', kv_cache_dtype='auto', quantization_param_path=None")
    f = diagnose_text(line).facts
    assert (f.engine, f.model) == ("sglang", "deepseek-ai/DeepSeek-V2-Lite")
    assert f.args["trust_remote_code"] is True and f.args["kv_cache_dtype"] == "auto"


def test_gpus_driver_and_cuda():
    text = "\n".join([
        "ggml_cuda_init: found 3 CUDA devices (Total VRAM: 171589 MiB):",  # llama.cpp#22319
        "  Device 0: NVIDIA RTX PRO 6000 Blackwell Workstation Edition, compute capability 12.0, VMM: yes, VRAM: 97886 MiB",
        "  Device 1: NVIDIA GeForce RTX 4090, compute capability 8.9, VMM: yes, VRAM: 49139 MiB",
        "| NVIDIA-SMI 470.86       Driver Version: 470.86       CUDA Version: 11.4",  # Fooocus#1313
    ])
    f = diagnose_text(text).facts
    assert [(g["index"], g["name"], g["cc"], g["vram_mib"]) for g in f.gpus] == [
        (0, "NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "12.0", "97886"),
        (1, "NVIDIA GeForce RTX 4090", "8.9", "49139"),
    ]
    assert (f.engine, f.driver_version, f.cuda_version) == ("llamacpp", "470.86", "11.4")


def test_collect_env_gpu_lines():
    # vllm#15336 (python collect_env.py)
    text = "GPU models and configuration:\nGPU 0: NVIDIA A800-SXM4-80GB\nGPU 1: NVIDIA A800-SXM4-80GB\n\nNvidia driver version: 560.35.03\nPyTorch version: 2.6.0+cu124\nCUDA used to build PyTorch: 12.4"
    f = diagnose_text(text).facts
    assert [g["name"] for g in f.gpus] == ["NVIDIA A800-SXM4-80GB"] * 2
    assert (f.driver_version, f.torch_version, f.cuda_version) == ("560.35.03", "2.6.0+cu124", "12.4")


def test_line_numbers_count_every_line_across_chunks():
    body = "INFO filler line\n" * 200_000 + "ValueError: Total number of attention heads (64) must be divisible by tensor parallel size (3).\n"
    d = diagnose_file(io.BytesIO(body.encode()))
    assert d.lines == 200_001 and d.items[0].evidence[0][0] == 200_001


def test_a_10_mb_line_is_cut_and_the_next_line_still_counts():
    body = b"x" * (10 << 20) + b" CUDA out of memory.\n" + b"Value error, Total number of attention heads (64) must be divisible by tensor parallel size (3).\n"
    chunks = list(chunks_from_binary(io.BytesIO(body), read_size=1 << 16))
    assert max(len(x) for c in chunks for x in c.split(b"\n")) <= MAX_LINE
    d = diagnose_file(io.BytesIO(body))
    assert [i.category for i in d.items] == ["tp_size_mismatch"] and d.items[0].evidence[0][0] == 2


def test_bad_bytes_are_replaced_not_fatal():
    body = b"\xff\xfe\x00garbage\n" + "Value error, Total number of attention heads (64) must be divisible by tensor parallel size (3).\n".encode()
    d = diagnose_file(io.BytesIO(body))
    assert d.items[0].category == "tp_size_mismatch" and d.items[0].evidence[0][0] == 2


def test_split_utf8_sequence_across_reads():
    """Reads of 7 bytes split the 2-byte `é` everywhere: chunks still end on newlines, so no character is cut."""
    text = "é" * 4_000 + "\nValueError: Total number of attention heads (52) must be divisible by tensor parallel size (3).\n"
    chunks = list(chunks_from_binary(io.BytesIO(text.encode()), read_size=7))
    assert b"".join(chunks) == text.encode() and all(c.endswith(b"\n") for c in chunks)
    assert [c.decode() for c in chunks]  # every chunk decodes on its own


def test_same_diagnosis_without_re2(monkeypatch):
    """google-re2 is an optimisation: with it hidden, the stdlib prefilter gives the same result."""
    import sys

    text = (LOGS / "healthy-vllm-dp8-b200-banner.log").read_text() + (LOGS / "a-vllm-kv-cache-too-small.log").read_text()
    with_re2 = diagnose_text(text).to_dict()
    monkeypatch.setitem(sys.modules, "re2", None)  # `import re2` now raises ImportError
    assert diagnose_text(text).to_dict() == with_re2


def test_windows_line_endings():
    text = (LOGS / "healthy-vllm-dp8-b200-banner.log").read_text() + (LOGS / "a-vllm-kv-cache-too-small.log").read_text()
    d = diagnose_file(io.BytesIO(text.replace("\n", "\r\n").encode()))
    assert d.facts.engine_version == "0.25.0" and d.facts.args["moe_backend"] == "deep_gemm_mega_moe"
    assert d.items[0].fix_command.endswith("--max-model-len 13528") and "\r" not in d.items[0].evidence[0][1]


def test_an_echoed_command_names_engine_model_and_args():
    """The command of vllm PR #55914 (fixture) gives the engine, the model and its flags; secret flags are masked."""
    d = diagnose_file(open(LOGS / "a-vllm-megamoe-needs-ep.log", "rb")).to_dict()["detected"]
    assert (d["engine"], d["model"]) == ("vllm", "deepseek-ai/DeepSeek-V4-Pro-0813")
    assert d["args"]["tokenizer-mode"] == "deepseek_v4" and d["args"]["moe-backend"] == "deep_gemm_mega_moe"
    f = diagnose_text("$ vllm serve deepseek-ai/DeepSeek-V4-Flash --api-key abc123secret --hf-token hf_x").facts
    assert f.command_args["api-key"] == "[REDACTED]" and f.command_args["hf-token"] == "[REDACTED]"


class _Endless:
    """A read()-able stream that makes `size` bytes of real log lines on the fly (nothing held)."""

    def __init__(self, lines: list[bytes], size: int):
        self.lines, self.left, self.i = lines, size, 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n and self.left > 0:
            line = self.lines[self.i % len(self.lines)]
            self.i += 1
            out += line
            self.left -= len(line)
        return bytes(out)


def test_memory_stays_bounded_over_a_long_stream():
    """20 MB streamed through diagnose: the Python heap peak stays a small constant, not the log's size."""
    import tracemalloc

    lines = [x.encode() + b"\n" for x in (LOGS / "healthy-vllm-kv-cache-report.log").read_text().splitlines() if not x.startswith("#")]
    lines.append(b"Value error, Total number of attention heads (64) must be divisible by tensor parallel size (3).\n")
    diagnose_file(_Endless(lines, 1 << 20))  # warm up: imports and compiled patterns are not the log's memory
    tracemalloc.start()
    d = diagnose_file(_Endless(lines, 20 << 20))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert d.items[0].category == "tp_size_mismatch" and d.lines > 100_000
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB"
