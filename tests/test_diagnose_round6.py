"""Rules written while fitting round 6 (its fit part only): each as a general rule, each with a case where it
must not fire. Lines are in the wording of the public threads named beside them, shortened; synthetic ones say so."""

from __future__ import annotations

import pytest

from v4doctor.logs import diagnose_text
from v4doctor.logs.concepts import hits
from v4doctor.logs.tiers import text_window


def _cats(d):
    return [(i.category, i.severity) for i in d.items]


# --------------------------------------------------------------------------- a start-up failure the server came up after
@pytest.mark.parametrize("failure", [
    "OSError: [Errno 98] Address already in use",
    "requests.exceptions.HTTPError: 429 Client Error: Too Many Requests for url: https://huggingface.co/api/models/x",
])
def test_a_start_up_failure_the_server_came_up_after_raises_no_alarm(failure):
    """Synthetic: a first attempt fails, a later line shows the server up, so that failure did not stop it."""
    up = "INFO:     Application startup complete.\nINFO:     Uvicorn running on http://0.0.0.0:8000"
    after = diagnose_text(f"{failure}\n{up}")
    assert after.healthy, _cats(after)
    assert after.items and after.items[0].severity == "warning", _cats(after)  # still shown, as a warning
    before = diagnose_text(f"{up}\n{failure}")
    assert not before.healthy, _cats(before)


def test_a_request_time_failure_after_start_up_still_alarms():
    """Synthetic: the server came up, then a request fails on the context (vllm#20409's wording): not a start-up
    failure, so a later serving line does not excuse it."""
    log = ("INFO:     Application startup complete.\n"
           "ValueError: This model's maximum context length is 16384 tokens. However, you requested 122946 tokens\n"
           'INFO:     127.0.0.1:5000 - "POST /v1/chat/completions HTTP/1.1" 200 OK')
    assert not diagnose_text(log).healthy


# --------------------------------------------------------------------------- a quantized format's kernel
TGI_AWQ = """Traceback (most recent call last):
  File "/opt/conda/lib/python3.9/site-packages/text_generation_server/utils/awq/quantize/qmodule.py", line 46, in forward
    out = awq_inference_engine.gemm_forward_cuda(
RuntimeError: CUDA error: no kernel image is available for execution on the device"""  # text-generation-inference#1168


def test_no_kernel_image_inside_a_quantized_format_is_quantization_unsupported():
    d = diagnose_text(TGI_AWQ)
    assert d.items[0].category == "quantization_unsupported", _cats(d)
    plain = diagnose_text(TGI_AWQ.replace("utils/awq/quantize/qmodule.py", "layers/linear.py").replace("awq_inference_engine", "ops"))
    assert plain.items[0].category == "gpu_arch_unsupported", _cats(plain)


# --------------------------------------------------------------------------- the allocation that was the KV cache
def test_an_allocation_that_the_next_line_calls_the_kv_cache_is_the_context():
    """llama.cpp#8101: a 1M-token context asks for a 137 GB KV buffer."""
    log = ("ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 137438953504\n"
           "llama_kv_cache_init: failed to allocate buffer for kv cache")
    d = diagnose_text(log)
    assert [c for c, _ in _cats(d)[:2]] == ["kv_cache_too_small", "oom_weights"], _cats(d)
    assert diagnose_text(log.split("\n")[0]).items[0].category == "oom_weights"


# --------------------------------------------------------------------------- slow prefill in llama.cpp's words
@pytest.mark.parametrize("ms, slow", [("193146.00", True), ("6294.68", False)])
def test_a_prompt_that_takes_minutes_to_prefill_is_a_slow_prefill_warning(ms, slow):
    """private-gpt#493's timing lines (1520 tokens in 193 s); the same with 6 s is an ordinary run."""
    log = (f"llama_print_timings: prompt eval time = {ms} ms / 1520 tokens ( 127.07 ms per token)\n"
           "llama_print_timings: eval time = 8907.04 ms / 30 runs ( 296.90 ms per token)")
    d = diagnose_text(log)
    assert any(i.category == "slow_long_context_prefill" and i.severity == "warning" for i in d.items) is slow, _cats(d)
    assert d.healthy


@pytest.mark.parametrize("rate, slow", [("448.61", True), ("4480.61", False)])
def test_a_long_prompt_prefilling_slowly_in_llama_server_is_a_slow_prefill_warning(rate, slow):
    """ollama#18123's llama-server lines: a 14,892-token prompt at 448 tokens/s is half a minute before a token."""
    log = ("slot operator(): id 0 | task 0 | new prompt, n_ctx_slot = 131072, n_keep = 4, task.n_tokens = 14892\n"
           f"slot print_timing: id 0 | task 0 | prompt processing, n_tokens = 1536, progress = 0.10, t = 3.42 s / {rate} tokens per second")
    d = diagnose_text(log)
    assert any(i.category == "slow_long_context_prefill" for i in d.items) is slow, _cats(d)


# --------------------------------------------------------------------------- normalising and concept wordings
def test_a_traceback_copied_from_a_web_page_keeps_its_frames():
    """xorbitsai/inference#4032: the quotes arrive as &quot;; the traceback is cut inside the FP8 quantizer's check."""
    log = ("  File &quot;/x/transformers/quantizers/auto.py&quot;, line 319, in get_hf_quantizer\n"
           "  File &quot;/x/transformers/quantizers/quantizer_finegrained_fp8.py&quot;, line 54, in validate_environment\n"
           "    raise ValueError(")
    win = text_window(log)
    assert win.frames and win.frames[-1].endswith("quantizer_finegrained_fp8.py")
    assert [h.concept.category for h in hits(win)][:1] == ["quantization_unsupported"]


@pytest.mark.parametrize("line, category", [
    # vllm#13882: the memory profile leaves a negative KV pool
    ("INFO 02-26 09:54:05 worker.py:267] model weights take 5.20GiB; the rest of the memory reserved for KV Cache is -1.05GiB.", "kv_cache_too_small"),
    ("INFO 02-26 09:54:05 executor_base.py:116] Maximum concurrency for 4096 tokens per request: 0.00x", "kv_cache_too_small"),
    ("2024/01/14 19:50:06 gpu.go:138: CUDA GPU is too old. Falling back to CPU mode. Compute Capability detected: 5.2", "gpu_arch_unsupported"),  # ollama#1992
    ("Error: supplied file was not in GGUF format", "gguf_bad_file_or_arch"),  # ollama#8728
])
def test_round_6_concept_wordings(line, category):
    assert [h.concept.category for h in hits(text_window(line))][:1] == [category]


def test_a_kv_pool_that_fits_is_no_concept():
    assert hits(text_window("INFO worker.py:267] the rest of the memory reserved for KV Cache is 11.05GiB.\n"
                            "INFO executor_base.py:116] Maximum concurrency for 4096 tokens per request: 12.50x")) == []


# --------------------------------------------------------------------------- output text and mangled error lines
def test_vllm_example_output_of_one_repeated_character_is_gibberish():
    """vLLM's example script line (a DeepSeek-V2 run in fp16 answering '!!!!', round 6's fit part), and a sane reply."""
    bad = "Prompt: 'The capital of France is:', Generated text: '!!!!!!!!!!!!!!!!!!'"
    d = diagnose_text(bad)
    assert d.items and d.items[0].category == "gguf_gibberish_quality", _cats(d)
    good = diagnose_text("Prompt: 'The capital of France is:', Generated text: ' Paris, the largest city of France.'")
    assert all(i.category != "gguf_gibberish_quality" for i in good.items), _cats(good)


def test_undecodable_bytes_in_an_error_line_are_no_garbled_output():
    """Synthetic, in Ollama's wording: a Windows user name mangled in a blob path is not a model's reply."""
    log = ("llama-server process has terminated: exit status 1: error loading model: llama_model_loader: "
           "failed to load model from C:\\Users\\\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd\ufffd\\.ollama\\models\\blobs\\sha256-667b")
    d = diagnose_text(log)
    assert all(i.category != "gguf_gibberish_quality" for i in d.items), _cats(d)


# --------------------------------------------------------------------------- healthy logs: levels, noise, more ways to say "up"
UP = "INFO:     Application startup complete."


@pytest.mark.parametrize("line", [
    # glog's W level from torch.distributed (the c10d socket note every single-node run prints)
    "[W1203 10:11:12.123456 1 torch/csrc/distributed/c10d/socket.cpp:759] [c10d] The client socket cannot be initialized "
    "to connect to [localhost]:29500 (errno: 97 - Address family not supported by protocol).",
    "W1203 10:11:12.123456 1 torch/distributed/elastic/multiprocessing/redirects.py:29] NOTE: Redirects are currently not supported in Windows or MacOs.",
    # TensorFlow/JAX imported beside torch: logged at E level, stops nothing
    "E0000 00:00:1733212345.123456    1234 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register "
    "factory for plugin cuDNN when one has already been registered",
])
def test_a_line_its_logger_tagged_as_a_warning_or_known_noise_raises_no_alarm(line):
    """Synthetic placement: the line after the server came up, where nothing excuses a failure."""
    d = diagnose_text(f"{UP}\n{line}")
    assert d.healthy, _cats(d)
    assert not diagnose_text(f"{UP}\n" + line.replace("[W1203", "[E1203").replace("W1203", "E1203")
                             .replace("Unable to register cuDNN factory", "CUDA error: out of memory")).healthy


@pytest.mark.parametrize("up", [
    'time=2025-01-01T10:00:00.000Z level=INFO source=routes.go:1234 msg="Listening on 127.0.0.1:11434 (version 0.5.7)"',
    '[GIN] 2025/01/01 - 10:00:05 | 200 |  1.234567s |       127.0.0.1 | POST     "/api/chat"',
    "srv  log_server_r: request: POST /completion 127.0.0.1 200",
    "INFO 07-07 00:42:52 [api_server.py:1455] Starting vLLM API server 0 on http://0.0.0.0:8000",
])
def test_more_engines_ways_of_saying_the_server_is_up(up):
    """A start-up error the server came up after (a port retried, synthetic) is no alarm in any engine's words."""
    d = diagnose_text(f"Error: listen tcp 127.0.0.1:11434: bind: address already in use\n{up}")
    assert d.healthy, _cats(d)


def test_a_log_cut_after_uvicorn_started_its_process_is_not_yet_up():
    """uvicorn prints `Started server process` before the application's start-up, which can still fail."""
    d = diagnose_text("INFO:     Started server process [1]\nINFO:     Waiting for application startup.")
    assert [i.category for i in d.items] == ["insufficient_evidence"], _cats(d)
