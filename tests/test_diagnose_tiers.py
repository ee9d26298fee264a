"""The tiers after the exact signatures (docs/diagnose.md, "The tiers after the signatures"): normalisation,
concept rules, the launch plan as evidence, output quality, the learned fallback, insufficient evidence.

Real lines come from the corpus and the signature samples (each file names its source thread); lines built
here say so ("Synthetic").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.diagnose_accuracy import load_cases
from v4doctor.logs import diagnose_text
from v4doctor.logs.concepts import MAX_CONFIDENCE, hits, load_concepts
from v4doctor.logs.learned import learned_item, load_model, predict
from v4doctor.logs.normalise import normalise, unwrap
from v4doctor.logs.quality import garbage, quality_item
from v4doctor.logs.rank import fill
from v4doctor.logs.reader import chunks_from_lines
from v4doctor.logs.scan import Scanner
from v4doctor.logs.signatures import load_signatures
from v4doctor.logs.tiers import text_window

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"


def _body(text: str) -> str:
    lines = text.splitlines(keepends=True)
    i = next((k for k, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return "".join(lines[i:])


HEALTHY = [(c.name, c.body) for c in load_cases() if c.expect == "healthy"] + [
    (p.name, _body(p.read_text(encoding="utf-8"))) for p in sorted(LOGS.glob("healthy*.log"))
]


# --------------------------------------------------------------------------- the scan keeps both ends
def test_the_scan_keeps_the_head_and_tail_with_their_line_numbers():
    """Synthetic: 20,000 numbered lines; the tail's first line number is its true number."""
    scanner = Scanner(load_signatures())
    for chunk in chunks_from_lines(f"line {i} " + "x" * 50 for i in range(1, 20_001)):
        scanner.feed(chunk)
    r = scanner.result()
    head, tail = r.head.decode().splitlines(), r.tail.decode().splitlines()
    assert head[0].startswith("line 1 ") and tail[-1].startswith("line 20000 ")
    assert tail[0].startswith(f"line {r.tail_start} ") and r.tail_start > 15_000
    assert len(r.head) <= 64 << 10 and len(r.tail) <= 128 << 10


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "raw, text",
    [
        ('{"level":"error","msg":"CUDA  out of memory"}', "CUDA out of memory"),  # JSON envelope, doubled space
        ('{"log":"bind: address already in use\\n","stream":"stderr"}', "bind: address already in use"),  # docker json-file
        ('{"fields":{"message":"No space left on device"},"level":"ERROR"}', "No space left on device"),  # tracing
        ('time="2024-05-01T10:11:12Z" level=error msg="pull model manifest: 429"', "pull model manifest: 429"),  # logfmt
        ("2024-05-01 10:11:12,123 - vllm.engine - ERROR - boom happened", "boom happened"),  # Python logging
        ("vllm-1  | ERROR 05-01 10:11:12 [core.py:1] ValueError: bad", "ValueError: bad"),  # compose + vLLM
    ],
)
def test_lines_are_unwrapped_and_stripped_to_their_message(raw, text):
    win = normalise([(1, raw)])
    assert win.lines[0].text == text and win.lines[0].raw == raw  # evidence keeps the raw line


def test_embedded_newlines_of_an_envelope_become_lines():
    parts, level = unwrap(json.dumps({"level": "error", "message": "Traceback (most recent call last):\nValueError: x"}))
    assert parts == ["Traceback (most recent call last):", "ValueError: x"] and level == "error"


def test_a_backslash_continued_command_is_joined():
    win = normalise([(1, "vllm serve m \\"), (2, "  --tensor-parallel-size 3")])
    assert [ln.text for ln in win.lines] == ["vllm serve m --tensor-parallel-size 3"]


def test_frames_of_an_excerpt_without_its_traceback_header_still_count():
    win = normalise([(1, '  File "/x/vllm/model_executor/layers/quantization/fp8.py", line 3, in apply'),
                     (2, "RuntimeError: not supported on this GPU")])
    assert win.frames == ["/x/vllm/model_executor/layers/quantization/fp8.py"] and win.exception.number == 2


SAMPLE = (LOGS / "a-torch-oom-tried-to-allocate.log").read_text(encoding="utf-8")
OOM = next(ln for ln in SAMPLE.splitlines() if "CUDA out of memory" in ln)


@pytest.mark.parametrize(
    "variant",
    [OOM.lower(), OOM.replace(" ", "  "), json.dumps({"level": "error", "msg": OOM}), "[pod/vllm-0/vllm] " + OOM],
    ids=["lower-case", "doubled-spaces", "json-envelope", "k8s-prefix"],
)
def test_a_known_sentence_in_another_shape_is_still_known(variant):
    """The torch OOM of the signature sample (its source in the file), pasted lower-case, with doubled spaces,
    in a JSON log envelope, behind a Kubernetes prefix: still oom_weights."""
    d = diagnose_text(variant)
    assert d.items and d.items[0].category == "oom_weights", [(i.id, i.category) for i in d.items]


# --------------------------------------------------------------------------- concept rules
def _engine(path: str) -> str:
    name = Path(path).name
    return re.split(r"[-_.]", name[2:] if name[:2] in ("a-", "b-", "c-", "d-") else name)[0]


@pytest.mark.parametrize("concept", load_concepts(), ids=lambda c: c.id)
def test_each_concept_fires_on_samples_of_two_engines_with_the_signatures_silent(concept):
    """Every concept rule names its category on real logs from at least two engines, by itself (concept tier
    only, the signatures not consulted)."""
    engines = set()
    for case in load_cases():
        if case.expect != concept.category:
            continue
        found = hits(text_window(case.body), (concept,))
        if found:
            engines.add(_engine(case.name))
    assert len(engines) >= 2, (concept.id, sorted(engines))


@pytest.mark.parametrize("name, body", HEALTHY, ids=[n for n, _ in HEALTHY])
def test_no_concept_fires_and_nothing_alarms_on_a_healthy_log(name, body):
    assert hits(text_window(body)) == []
    d = diagnose_text(body)
    assert d.healthy, [(i.id, i.category) for i in d.items]
    assert all(i.id not in ("DIAG-LEARNED", "DIAG-OUTPUT-QUALITY") for i in d.items)


def test_concepts_are_capped_below_every_signature():
    assert all(c.confidence <= MAX_CONFIDENCE for c in load_concepts())
    assert min(s.confidence for s in load_signatures() if s.role == "cause" and s.severity == "error") > MAX_CONFIDENCE


@pytest.mark.parametrize(
    "line, category",
    [
        ("Error: listen tcp 127.0.0.1:11434: bind: Only one usage of each socket address (protocol/network address/port) is normally permitted.", "port_in_use"),
        ("OSError: [WinError 112] There is not enough space on the disk", "disk_full"),
        ("AssertionError: 30 is not divisible by 4", "tp_size_mismatch"),
        ("RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory", "corrupt_or_incomplete_weights"),
        ("ModuleNotFoundError: No module named 'transformers_modules.xyz'", "trust_remote_code"),
        ("jinja2.exceptions.TemplateSyntaxError: unexpected '}'", "tokenizer_or_template"),
        # the NVML message after a driver upgrade without a reboot (pytorch-lightning#10128, vllm#29737)
        ("Failed to initialize NVML: Driver/library version mismatch", "driver_too_old_or_cuda_mismatch"),
        # a request longer than the served context (vllm#20409; TGI's validation wording)
        ("ValueError: This model's maximum context length is 16384 tokens. However, you requested 122946 tokens", "kv_cache_too_small"),
        ("Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 17 `inputs` tokens", "kv_cache_too_small"),
        ("RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`", "oom_weights"),  # vllm#8180
        ("OSError: [Errno 122] Disk quota exceeded", "disk_full"),  # instruct-nerf2nerf#86
        # nvidia-smi with no usable driver (NVIDIA/nvidia-docker#988)
        ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", "docker_gpu_runtime"),
        # round 5: the process count against tp*pp (TensorRT-LLM's WorldConfig, Tlntin/Qwen-TensorRT-LLM#123) and
        # a bare assertion in another runtime's words (synthetic)
        ("RuntimeError: [TensorRT-LLM][ERROR] Assertion failed: mpiSize == tp * pp (worldConfig.cpp:90)", "tp_size_mismatch"),
        ("assert world_size == tp * pp, 'launch one process per rank'", "tp_size_mismatch"),
        ("[1]    2771397 floating point exception  lmdeploy serve api_server --tp 4", "tp_size_mismatch"),  # lmdeploy#2089
        # the level prefix is gone after normalising, the line is still a failure (ComfyUI-QwenVL#28)
        ("ERROR: FP8 models require a GPU with Compute Capability 8.9 or higher (e.g., RTX 4090). Your GPU's capability is 8.6.", "quantization_unsupported"),
        ("[E] Error[9]: Networks with FP8 Q/DQ layers require hardware with FP8 support.", "quantization_unsupported"),  # Model-Optimizer#70
        ("ERROR: Your GPU does not support Int8 Matmul!", "quantization_unsupported"),  # bitsandbytes#118
        ("The engine plan file is generated on an incompatible device, expecting compute 8.6 got compute 7.5, please rebuild.", "gpu_arch_unsupported"),
        ("[TRT] [E] 2: [virtualMemoryBuffer.cpp::resizePhysical::140] Error Code 2: OutOfMemory (no further information)", "oom_weights"),
        ("ggml_vulkan: vk::Device::allocateMemory: ErrorOutOfDeviceMemory", "oom_weights"),  # llama.cpp#15256
        ('level=WARN source=runner.go:131 msg="truncating input prompt" limit=2048 prompt=5065 keep=5 new=2048', "kv_cache_too_small"),
        ("INFO [update_slots] input truncated | n_ctx=2048 n_erase=1090 n_keep=4", "kv_cache_too_small"),
        ("host:5971:6015 [4] NCCL INFO socketPollConnect: connect to 10.0.0.2<52333> returned Connection refused, retrying (18/34)", "nccl_or_shm"),
        ("RuntimeError: unable to write to file </torch_76_3625483894>", "nccl_or_shm"),
        ("E0118 08:31:52.149680 840 main.cc:257] failed to start HTTP service: Unavailable - Socket '0.0.0.0:1111' already in use", "port_in_use"),
        ("This container was built for NVIDIA Driver Release 575.51 or later, but version 470.256.02 was detected and compatibility mode is UNAVAILABLE", "driver_too_old_or_cuda_mismatch"),
        ("error loading model: unknown (magic, version) combination: 46554747, 00000003; is this really a GGML file?", "arch_unsupported_engine_too_old"),
        ("thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value: \"Model x\" on the Hub doesn't have a tokenizer', router/src/main.rs:101:70", "tokenizer_or_template"),  # TGI#238
        ("DEBUG 05-28 02:39:59 [hermes_tool_parser.py:131] No tool call tokens found!", "tokenizer_or_template"),  # vllm#18791
        ('"The input size is not aligned with the quantized weight shape. This can be caused by too large tensor parallel size."', "tp_size_mismatch"),  # Qwen3#698
        # round 7: SGLang refusing a prompt its KV pool cannot hold (sglang#3909 shape), TensorRT-LLM's executor naming
        # the KV cache (TensorRT-LLM#5872 shape), vLLM's divide() source line in a cut traceback (gpustack#3777 shape),
        # an OCI prestart hook failing (ollama#11985 shape), minja's error position (gpustack's llama.cpp, round 7)
        ("[2025-03-03 06:49:28 TP5] Input length (160062 tokens) exceeds the maximum allowed length (59862 tokens). Use a shorter input or enable --allow-auto-truncate.", "kv_cache_too_small"),
        ("The following component could not be created: KV cache", "kv_cache_too_small"),
        ("ERROR 12-08 15:37:59 [multiproc_executor.py:597]     per_partition_vocab_size = divide(global_vocab_size, world_size)", "tp_size_mismatch"),
        ("Error response from daemon: failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running prestart hook #0: exit status 2, stdout: , stderr: SIGSEGV: segmentation violation", "docker_gpu_runtime"),
        ("Value is not callable: null at row 49, column 79:", "tokenizer_or_template"),
        # round 8: transformers without a weights file in the folder (Ke-Omni-R#4 shape), TensorRT-LLM without a kernel
        # tactic (TensorRT-LLM#685 shape), Gradio's port (AMD-SHARK-Studio#1945 shape)
        ("OSError: Error no file named pytorch_model.bin, model.safetensors, tf_model.h5, model.ckpt.index or flax_model.msgpack found in directory D:\\models\\x.", "corrupt_or_incomplete_weights"),
        ("  what():  [TensorRT-LLM][ERROR] Assertion failed: No valid SQ GEMM tactic (/data/TensorRT-LLM/cpp/x.cpp:329", "gpu_arch_unsupported"),
        ("OSError: Cannot find empty port in range: 8080-8080. You can specify a different port by setting the GRADIO_SERVER_PORT environment variable", "port_in_use"),
        # round 10: llama.cpp's quantized V cache without flash attention (llama.cpp#10378 shape), `ollama create` on a
        # GGML-era file (round 10 shape)
        ("llama_init_from_model: V cache quantization requires flash_attn", "quantization_unsupported"),
        ("Error: unsupported content type: unknown", "gguf_bad_file_or_arch"),
    ],
)
def test_concepts_on_wordings_no_signature_has(line, category):
    """Synthetic one-liners in the wording of other engines and OSes (Go, Windows, a bare assertion)."""
    assert [h.concept.category for h in hits(text_window(line))][:1] == [category]


# --------------------------------------------------------------------------- the launch plan
def test_an_oom_with_a_plan_that_cannot_fit_says_the_weights_do_not_fit():
    """Synthetic, from real line shapes: vLLM's non-default args (vllm#51454) with V4-Flash at TP 1, a
    collect_env GPU line, and torch's OOM sentence (the signature sample's wording)."""
    text = "\n".join([
        "INFO 08-07 21:32:22 [api_utils.py:273] non-default args: {'model_tag': 'deepseek-ai/DeepSeek-V4-Flash', 'tensor_parallel_size': 1}",
        "GPU 0: NVIDIA H100 80GB HBM3",
        OOM,
    ])
    top = diagnose_text(text).items[0]
    assert top.category == "oom_weights" and "V4D210" in top.matched and "V4D303" in top.matched
    # the title leads with the plan's verdict (V4D303: weights per GPU exceed the usable memory), not the shortfall
    assert top.title.startswith("DeepSeek-V4-Flash") and "weights" in top.title and "(the log: Out of GPU memory" in top.title


def test_docker_run_without_shm_then_bus_error_is_shared_memory():
    """Synthetic: a docker run echoed without --ipc=host/--shm-size, then a worker's Bus error."""
    run = "$ docker run --gpus all -p 8000:8000 vllm/vllm-openai:latest --model deepseek-ai/DeepSeek-V4-Flash -tp 8"
    crash = "ERROR 05-01 10:11:12 [core.py:1] RuntimeError: DataLoader worker (pid 123) is killed by signal: Bus error."
    top = diagnose_text(run + "\n" + crash).items[0]
    assert (top.id, top.category) == ("DIAG-DOCKER-SHM", "nccl_or_shm") and "--ipc=host" in top.fix
    assert diagnose_text(run.replace("--gpus all", "--gpus all --ipc=host") + "\n" + crash).items[0].id != "DIAG-DOCKER-SHM"


# --------------------------------------------------------------------------- output quality
@pytest.mark.parametrize(
    "text, bad",
    [
        ("ISIS-ISIS-ISIS-ISIS-ISIS-ISIS-ISIS-ISIS-ISIS-ISIS", True),
        ("Hello, my name is ⁇ ⁇ ⁇ ⁇ ⁇ ⁇ ⁇ ⁇ ⁇ ⁇", True),
        ("Hello! How can I help you today?<|im_end|>", True),
        ("the the the the the the the the the the the", True),
        ("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@", True),
        ("Paris is the capital of France, on the Seine.", False),
        ("-" * 80, False),  # a ruler
        ("+------------------+------+", False),  # a table border
        ("           ^^^^^^^^^^^^^^^^^^^^^^^^^^", False),  # a traceback's caret line
        ("0x0000000000000000000000000000000000000000", False),  # an address
    ],
)
def test_garbage_text(text, bad):
    assert bool(garbage(text)) is bad, garbage(text)


def test_garbled_output_after_a_prompt_is_gibberish_quality():
    """Synthetic: an Ollama-style `>>>` prompt and a reply of one repeated token."""
    item = quality_item(text_window(">>> hi\n<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<"))
    assert item and item.category == "gguf_gibberish_quality" and item.severity == "error"


def test_the_engine_warning_about_quality_is_a_warning():
    """llama.cpp's missing pre-tokenizer warning (signature sample b-gguf-unknown-pretokenizer.log shape)."""
    item = quality_item(text_window("llm_load_vocab: missing pre-tokenizer type, using: 'default'\n"
                                    "llm_load_vocab: GENERATION QUALITY WILL BE DEGRADED!"))
    assert item and (item.category, item.severity) == ("gguf_gibberish_quality", "warning")


# --------------------------------------------------------------------------- the learned fallback
def test_the_learned_model_is_plain_data_with_defined_classes():
    model = load_model()
    assert model and {"classes", "idf", "coef", "intercept"} <= set(model) and "healthy" in model["classes"]
    assert len(model["intercept"]) == len(model["classes"])


def test_the_learned_fallback_only_replaces_an_unrecognised_failure():
    """It never adds a diagnosis where there was none: a healthy log's window can score anything, diagnose
    still raises no error (the test above runs every healthy log); here the structure: no `other`, no call."""
    win = text_window(HEALTHY[0][1])
    ranked = predict(win)
    assert all(0 <= p <= 1 for _, p in ranked)
    item = learned_item(win)
    assert item is None or (item.confidence <= 0.3 and item.title.startswith("Likely "))


def test_the_second_opinion_comes_last_and_never_changes_the_top_answer():
    """Across the corpus: a learned "Also possible" item is the last one, less confident than every rule's item,
    names a cause no other item names, and the top answer is what the rules said without it."""
    import v4doctor.logs.tiers as tiers

    seen = 0
    for case in load_cases():
        items = diagnose_text(case.body).items
        extra = [i for i in items if i.title.startswith("Also possible: ")]
        if not extra:
            continue
        seen += 1
        (item,) = extra
        assert item is items[-1] and item.id == "DIAG-LEARNED", case.name
        assert all(item.confidence < i.confidence for i in items[:-1]), case.name
        assert item.category not in {i.category for i in items[:-1]}, case.name
        plain = tiers.with_second_opinion
        try:
            tiers.with_second_opinion = lambda scan, found: found
            assert [i.id for i in diagnose_text(case.body).items] == [i.id for i in items[:-1]], case.name
        finally:
            tiers.with_second_opinion = plain
    assert seen >= 3  # the corpus has cases where the classifier names another cause than the rules


def test_a_process_prefix_before_the_error_level_still_makes_a_failure_line():
    """vLLM's and Ray's `(Worker_TP4 pid=554) ERROR …` lines are failures whatever their words (a traceback's source
    lines included); `(APIServer pid=1) INFO …` is not."""
    win = text_window("(Worker_TP4 pid=554) ERROR 12-08 15:37:59 [multiproc_executor.py:597]     self.shard_indices = x\n"
                      "(RayWorkerWrapper pid=361, ip=192.168.100.119) ERROR 02-21 11:25:10 worker_base.py:581]     param = p[name]\n"
                      "(APIServer pid=1) INFO 12-08 15:37:59 [api_server.py:1] vLLM API server version 0.20.1\n")
    assert [ln.number for ln in win.failures] == [1, 2]


def test_untagged_lines_are_read_when_no_line_fails_but_only_as_a_warning():
    """No failure marker, no ready line: a cause found in the untagged lines is a warning (the log does not say it
    failed), and a log with nothing in them is still insufficient evidence."""
    # a paste that lost its first character (FlyMyAI/flymyai-lora-trainer#47), and a PTX assembler's words (FramePack#78)
    for text in ("VIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch installation.\n",
                 "Feature '.bf16' requires .target sm_80 or higher\n"):
        (item,) = diagnose_text(text).items
        assert (item.category, item.severity) == ("gpu_arch_unsupported", "warning") and "untagged" in item.cause
    (item,) = diagnose_text("loading the tokenizer\nreading the configuration\n").items
    assert (item.category, item.severity) == ("insufficient_evidence", "info")


def test_word_salad_and_a_rendered_chat_template():
    """A long reply of a few words cycled is word salad; a line that renders a chat transcript (special tokens in a
    role order, llama-server's example_format cut from its start) is the template, not a reply."""
    salad = " ".join(["Shux a one can em use long Sh you for long use em Sh one you long a message one"] * 5)
    assert "word salad" in (garbage(salad, output=True) or "")
    prose = ("The server loads the weights, builds the KV cache and then answers requests; each request is split into "
             "a prefill phase that reads the prompt and a decode phase that writes one token at a time, which is why "
             "long prompts cost more before the first token arrives and short ones barely register in the metrics.")
    assert garbage(prose, output=True) is None
    d = diagnose_text("<｜User｜>Hello<｜Assistant｜>Hi there<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜>'\n"
                      "main: server is listening on http://127.0.0.1:8080 - starting the main loop\n")
    assert d.healthy and not d.items


def test_stuttered_words_are_garbage_in_prose_and_on_any_line():
    """A word four times in a row in a reply (exllamav2 via TabbyAPI, round 9 shape), a fragment stuttered a dozen
    times on a line of any shape (xinference#1361 shape); a table of repeated numbers or a ruler is neither."""
    assert "in a row" in (garbage("Once upon a time, a cat named Tom and a rabbit named named named named") or "")
    d = diagnose_text("Example: when I ask 'hello' it respones 'HelloHowToToToToToToToToToToToToToToToToTo...' until the max token\n")
    assert d.items and d.items[0].category == "gguf_gibberish_quality"
    d = diagnose_text("layer 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n==============================================\n"
                      "INFO:     Application startup complete.\n")
    assert d.healthy and not d.items


def test_a_command_continued_in_cmd_or_powershell_is_one_line():
    """`^` (cmd) and a backtick (PowerShell) continue a command like a backslash does: the flags after them are read."""
    from v4doctor.logs.normalise import normalise

    win = normalise([(1, "llama-server.exe ^"), (2, "  -m models\\x.gguf ^"), (3, "  --ctx-size 32768")])
    assert len(win.lines) == 1 and "--ctx-size 32768" in win.lines[0].text and "-m models" in win.lines[0].text


def test_an_unknown_failure_the_log_goes_on_after_is_a_warning():
    """An unknown error line followed by ordinary lines (the process kept working) is a warning, not an alarm; the
    same line at the end of the log stays an error."""
    line = "ERROR: frobnicator quux zazzle failed\n"
    assert diagnose_text("starting the frobnicator\n" + line).items[0].severity == "error"
    later = diagnose_text("starting the frobnicator\n" + line + "frobnicated batch 1\nfrobnicated batch 2\nfrobnicated batch 3\n")
    assert later.healthy and later.items[0].severity == "warning" and "goes on" in later.items[0].cause


def test_a_bare_level_line_heads_the_next_and_client_mistakes_are_no_failure():
    """LM Studio prints `2026-05-04 14:06:10 [ERROR]` on its own line and the message on the next: the message is
    the failure line; a client's malformed JSON or a wrong route `returning 200 anyway` is none (round 10 shapes)."""
    from v4doctor.logs.normalise import normalise

    win = normalise([(1, "2026-05-04 14:06:10 [ERROR]"), (2, " CUDA error: out of memory"), (3, "ok")])
    assert [ln.number for ln in win.failures] == [2]
    d = diagnose_text("[LM STUDIO SERVER] Success! HTTP server listening on port 1234\n2026-05-04 14:06:10 [ERROR]\n"
                      " [LM STUDIO SERVER] Received request for /api/v1/chat with invalid JSON: Expected ',' or ']'\n"
                      "2026-05-04 14:06:11 [ERROR]\nUnexpected endpoint or method. (GET /). Returning 200 anyway\n")
    assert d.healthy and not [i for i in d.items if i.severity != "info"]


def test_an_unknown_architecture_is_the_engine_or_the_file_by_what_it_names():
    """'mllama' in an Ollama log: that Ollama is too old; in llama.cpp's own log: the file is Ollama's format; a diffusion
    model's GGUF architecture (ComfyUI-GGUF's list): the wrong file; an LLM architecture: the engine is too old."""
    line = "llama_model_load: error loading model: error loading model architecture: unknown model architecture: '{}'\n"
    ollama = "Error: 500 Internal Server Error: llama-server process has terminated: exit status 1\n"
    assert diagnose_text(ollama + line.format("mllama")).items[0].category == "arch_unsupported_engine_too_old"
    assert diagnose_text(line.format("mllama")).items[0].category == "gguf_bad_file_or_arch"
    assert diagnose_text(line.format("sd3")).items[0].category == "gguf_bad_file_or_arch"
    assert diagnose_text(line.format("qwen35moe")).items[0].category == "arch_unsupported_engine_too_old"


def test_a_model_loading_after_the_ready_line_is_not_healthy_yet():
    """A front end that came up, then a model that starts loading and the log ends: it stops short, not healthy."""
    ready = "INFO:     Application startup complete.\nINFO:     Uvicorn running on http://127.0.0.1:20000\n"
    assert diagnose_text(ready).items == []
    (item,) = diagnose_text(ready + "Loading the model ['chatglm3-6b'] on worker f219373d ...\n").items
    assert item.category == "insufficient_evidence"


def test_an_oom_after_the_weights_loaded_is_the_kv_cache_not_the_weights():
    """The same torch OOM line: right after `Loading checkpoint shards` it is the weights; in generation code
    (`past_key_value`) or after the load finished, the context/KV cache; a V4D plan finding keeps the weights."""
    oom = ("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 8.00 GiB total capacity; "
           "6.63 GiB already allocated; 0 bytes free; 7.29 GiB reserved in total by PyTorch)\n")
    loading = "Loading checkpoint shards:  40%|████      | 2/5 [00:10<00:15,  5.0s/it]\n"
    assert diagnose_text(loading + oom).items[0].category == "oom_weights"
    generating = ('  File "modeling_llama.py", line 209, in forward\n'
                  "    key_states = torch.cat([past_key_value[0], key_states], dim=2)\n")
    top = diagnose_text(generating + oom).items
    assert [i.category for i in top[:2]] == ["kv_cache_too_small", "oom_weights"] and top[0].id == "DIAG-OOM-AFTER-LOAD"
    done = "Loading checkpoint shards: 100%|██████████| 5/5 [00:25<00:00,  5.0s/it]\n"
    assert diagnose_text(done + oom).items[0].category == "kv_cache_too_small"


def test_special_tokens_alone_on_lines_are_garbage_but_not_on_a_command_line():
    """A reply followed by `<|EOT|>` line after line (DeepSeek-Coder#136 shape) is garbage; the same token as an
    argument of the command that ran (`--eos-token "<|eot_id|>"`) is not."""
    d = diagnose_text("答案正确。\n" + "<|EOT|>\n" * 6)
    assert d.items and d.items[0].category == "gguf_gibberish_quality"
    d = diagnose_text("mlx_lm.generate --model m --prompt 'write game of life' --eos-token \"<|eot_id|>\" <|eot_id|>\n"
                      "Here is a simple implementation of the Game of Life in Python:\n")
    assert all(i.category != "gguf_gibberish_quality" for i in d.items)


# --------------------------------------------------------------------------- insufficient evidence, fix texts
def test_a_log_cut_before_its_failure_is_insufficient_evidence_not_healthy():
    cut = "\n".join(SAMPLE.splitlines()[:1]) if False else "INFO 05-01 10:11:12 [api_server.py:1] vLLM API server version 0.20.1"
    d = diagnose_text(cut)
    assert [(i.category, i.severity) for i in d.items] == [("insufficient_evidence", "info")]
    up = diagnose_text((LOGS / "healthy-vllm-server-started.log").read_text(encoding="utf-8"))
    assert all(i.category != "insufficient_evidence" for i in up.items)


@pytest.mark.parametrize("sig", load_signatures(), ids=lambda s: s.id)
def test_a_fix_text_never_shows_a_placeholder_for_a_missing_value(sig):
    """Filled with no values at all, a template says what is known: no `?` it did not have, no `{`."""
    for template in (sig.title, sig.cause, sig.fix):
        text = fill(template, {})
        assert "{" not in text.replace("{{", "") and text.count("?") <= template.count("?"), (sig.id, text)


# --------------------------------------------------------------------------- failure lines found without a second pattern pass
def _naive_failures(text: str) -> tuple[list, list]:
    """The long way: every line, in order, through the same failure test."""
    from v4doctor.logs.reader import clean_line
    from v4doctor.logs.scan import FAILURE, FAILURE_LITERALS, MAX_EVIDENCE, NOT_AN_ERROR_LEVEL

    found = [(n, line) for n, line in enumerate(text.split("\n")[:-1], 1)
             if any(m in line for m in FAILURE_LITERALS) and FAILURE.search(clean_line(line)) and not NOT_AN_ERROR_LEVEL.search(line)]
    return found[:MAX_EVIDENCE], found[-4:]


def _scan(text: str, chunk_lines: int):
    scanner = Scanner(load_signatures())
    lines = text.split("\n")[:-1]
    for i in range(0, len(lines), chunk_lines):
        scanner.feed(("\n".join(lines[i:i + chunk_lines]) + "\n").encode())
    return scanner.result()


@pytest.mark.parametrize("chunk_lines", [1, 7, 100_000])
def test_first_and_last_failure_lines_match_a_line_by_line_scan(chunk_lines):
    """Corpus logs concatenated (real failure lines, INFO lines quoting errors), cut into chunks of several
    sizes: the first 3 and last 4 failure lines are those a naive scan of every line finds."""
    text = "".join(c.body if c.body.endswith("\n") else c.body + "\n" for c in load_cases()[:40])
    result = _scan(text, chunk_lines)
    first, last = _naive_failures(text)
    assert len(first) == 3 and len(last) == 4
    assert result.failures == first and result.last_failures == last


@pytest.mark.parametrize(
    "line, slow",
    [
        ("model-00001-of-00046.safetensors:  12%|█▏        | 1.2G/10.0G [05:00<30:00, 950kB/s]", True),
        ("Downloading Storage/x/output-00001-of-00004.safetensors Speed: 1.12 MB/sec, 1.24%", True),
        ("model-00001-of-00046.safetensors:  12%|█▏        | 1.2G/10.0G [00:10<01:10, 120MB/s]", False),
        ("NCCL INFO Channel 00 : 0[0] -> 1[1] via P2P/IPC, 2.5 MB/s measured", False),  # no download in sight
    ],
)
def test_a_crawling_download_is_a_slow_download_warning(line, slow):
    """Synthetic lines in tqdm's and a Go downloader's progress shapes."""
    d = diagnose_text(line)
    assert d.healthy and (d.items[0].category == "slow_download" if slow else all(i.category != "slow_download" for i in d.items))


@pytest.mark.parametrize("hide_re2", [False, True], ids=["re2", "stdlib"])
def test_searching_the_joined_window_finds_every_line_a_line_by_line_search_finds(hide_re2, monkeypatch):
    """The one-pass search over the window's text (RE2, or the stdlib on bytes) finds at least every line the
    pattern matches line by line (RE2 may add lines: callers confirm), on real corpus logs."""
    from v4doctor.logs import normalise as norm_module
    from v4doctor.logs import prefilter
    from v4doctor.logs.tiers import _SERVING

    if hide_re2:
        monkeypatch.setattr(prefilter, "re2_module", lambda: None)
    norm_module._bytes_pattern.cache_clear()
    patterns = [_SERVING] + [w.lines[0] for c in load_concepts() for w in c.whens if w.any_line]
    try:
        for case in load_cases()[::15]:
            win = text_window(case.body)
            for pattern in patterns:
                found = {id(ln) for ln in win.lines_matching(pattern)}
                assert {id(ln) for ln in win.lines if pattern.search(ln.norm)} <= found, (case.name, pattern.pattern[:40])
    finally:
        norm_module._bytes_pattern.cache_clear()


# --------------------------------------------------------------------------- round 5: what is no failure
@pytest.mark.parametrize(
    "log",
    [
        # SGLang's untagged warning that says how to silence itself (a healthy round-5 log)
        "[2025-09-03 18:32:29 TP3] Custom allreduce is disabled because it's not supported on more than two "
        "PCIe-only GPUs. To silence this warning, specify disable_custom_all_reduce=True explicitly.",
        # a function-name prefix, then the level (llama.cpp's warmup)
        "warmup: WARNING: flash attention not supported by CUDA0, memory usage will increase",
        # the launch configuration echoed at INFO: its option names are no evidence
        "(APIServer pid=1) INFO 06-01 09:45:34 [utils.py:278] non-default args: {'chat_template': '/etc/t.jinja', "
        "'tool_call_parser': 'qwen3_coder'}",
        # a chat template printed at start-up: its special tokens are the format, not the output
        "0.13.671 I init: chat template, example_format: '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n'\n"
        "0.13.678 I srv  llama_server: server is listening on http://127.0.0.1:8020",
        # a failure the engine recovered from (llama.cpp retries without pipeline parallelism; llama.cpp#26297)
        "1.06.520 E ggml_backend_cuda_buffer_type_alloc_buffer: allocating 51748.72 MiB on device 1: cudaMalloc failed: out of memory\n"
        "1.06.520 E graph_reserve: failed to allocate compute buffers\n"
        "1.06.520 W sched_reserve: compute buffer allocation failed, retrying without pipeline parallelism\n"
        "1.07.304 I srv    load_model: initializing, n_slots = 1",
        # a consent prompt answered yes (mlx-vlm#72)
        "The repository for x/y contains custom code which must be executed to correctly load the model.\n"
        "Do you wish to run the custom code? [y/N] y",
    ],
)
def test_warnings_echoes_templates_and_recovered_failures_raise_no_error(log):
    log = log.replace("\\n", "\n")
    assert hits(text_window(log)) == []
    d = diagnose_text(log)
    assert d.healthy, [(i.id, i.category, i.severity) for i in d.items]


def test_a_failure_after_the_recovery_is_still_the_cause():
    """Synthetic: the retry fails as well, so the allocation failure stands."""
    log = ("E ggml_backend_cuda_buffer_type_alloc_buffer: allocating 51748.72 MiB on device 1: cudaMalloc failed: out of memory\n"
           "W sched_reserve: compute buffer allocation failed, retrying without pipeline parallelism\n"
           "E ggml_backend_cuda_buffer_type_alloc_buffer: allocating 41000.00 MiB on device 1: cudaMalloc failed: out of memory\n"
           "E llama_init_from_model: failed to initialize the context: failed to allocate compute pp buffers")
    d = diagnose_text(log)
    assert not d.healthy and d.items[0].category == "kv_cache_too_small", [(i.id, i.category) for i in d.items]


def test_a_compute_buffer_that_does_not_fit_is_the_context_with_the_allocation_second():
    """llama.cpp#16725's lines: the weights are placed, the compute buffer for the context is not."""
    log = ("ggml_backend_cuda_buffer_type_alloc_buffer: allocating 14136.04 MiB on device 0: cudaMalloc failed: out of memory\n"
           "ggml_gallocr_reserve_n: failed to allocate ROCm0 buffer of size 14822711296\n"
           "graph_reserve: failed to allocate compute buffers\n"
           "llama_init_from_model: failed to initialize the context: failed to allocate compute pp buffers")
    d = diagnose_text(log)
    assert [i.category for i in d.items[:2]] == ["kv_cache_too_small", "oom_weights"], [(i.id, i.category) for i in d.items]
    plain = diagnose_text(log.split("\n")[0])
    assert plain.items[0].category == "oom_weights"


def test_a_second_concept_of_another_category_is_listed_second():
    """Synthetic: two causes in no signature's wording, the strongest first, the other after it."""
    log = ("RuntimeError: [TensorRT-LLM][ERROR] Assertion failed: mpiSize == tp * pp\n"
           "ERROR: Your GPU does not support Int8 Matmul!")
    d = diagnose_text(log)
    cats = [i.category for i in d.items[:2]]
    assert set(cats) == {"tp_size_mismatch", "quantization_unsupported"} and d.items[1].confidence < d.items[0].confidence


def test_a_download_that_says_it_needs_hours_is_a_slow_download_warning():
    """The wording of a ComfyUI model downloader (round 5): no rates, only estimated times left."""
    log = ("Downloading model: QuantStack/LTX-2.3-GGUF/LTX-2.3-distilled-Q4_K_M.gguf (16.5 GB)\n"
           "Download progress: 0%, ETA 47:28:20\nDownload progress: 0%, still working\nDownload progress: 32%, ETA 46:00")
    d = diagnose_text(log)
    assert [(i.category, i.severity) for i in d.items] == [("slow_download", "warning")], [(i.id, i.category) for i in d.items]
    quick = diagnose_text(log.replace("47:28:20", "0:07:20"))
    assert all(i.category != "slow_download" for i in quick.items)


@pytest.mark.parametrize("gap, slow", [("09:49:36", True), ("09:48:09", False)])
def test_a_long_prefill_before_the_first_decode_is_a_slow_prefill_warning(gap, slow):
    """SGLang's batch lines (sglang-mla-8k-prompt-prefill-90s-then-decode.log shape): 8009 tokens, then decode."""
    log = ("[2025-04-03 09:48:06 TP0] Prefill batch. #new-seq: 1, #new-token: 8009, #cached-token: 2, token usage: 0.00\n"
           f"[2025-04-03 {gap} TP0] Decode batch. #running-req: 1, #token: 8014, gen throughput (token/s): 0.44\n"
           "[2025-04-03 09:49:37 TP0] Decode batch. #running-req: 1, #token: 8054, gen throughput (token/s): 52.24")
    d = diagnose_text(log)
    assert any(i.category == "slow_long_context_prefill" and i.severity == "warning" for i in d.items) is slow
    assert d.healthy


def test_a_reply_that_says_the_same_sentence_again_and_again_is_gibberish():
    """llama.cpp's R1 IQ1_S run (round 5) in short: the text degenerates into one sentence repeated."""
    log = "Create a Flappy Bird game in Python. game over the.\n" + "When you re game over.\n\n" * 5
    d = diagnose_text(log)
    assert d.items and d.items[0].category == "gguf_gibberish_quality", [(i.id, i.category) for i in d.items]
    assert diagnose_text("Create a Flappy Bird game in Python.\nWhen you re game over.\n").healthy


@pytest.mark.parametrize("arch, category", [("clip", "gguf_bad_file_or_arch"), ("mllama", "gguf_bad_file_or_arch"),
                                            ("deepseek4", "arch_unsupported_engine_too_old")])
def test_an_unknown_architecture_that_no_upgrade_fixes_is_the_file(arch, category):
    """llama.cpp#7799 (an mmproj 'clip' file as the model), #14951 ('mllama'), and V4's 'deepseek4' on an old build."""
    d = diagnose_text(f"error loading model: error loading model architecture: unknown model architecture: '{arch}'")
    assert d.items[0].category == category, [(i.id, i.category) for i in d.items]
