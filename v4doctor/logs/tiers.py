"""The tiers after the exact signatures, run on the log's two ends (normalised) when they are silent or say `other`.

1. the signatures again, case-insensitive on normalised lines (JSON envelopes, logfmt, more prefixes,
   whitespace collapsed); 2. concept rules (`concepts.py`); 3. the output-quality detector
   (`quality.py`); 4. the learned fallback (`learned.py`), only in place of an `other`. Then a log that
   shows neither a failure nor that the server came up is `insufficient_evidence` (info), never healthy.
Each tier's confidence is below the one before it.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import replace
from typing import Iterable

from v4doctor.logs.diagnosis import Item
from v4doctor.logs.normalise import WRAPPER, Window, normalise, recovery
from v4doctor.logs.reader import evidence_text
from v4doctor.logs.scan import Event, ScanResult
from v4doctor.logs.signatures import Signature

# The server came up or served: a log that shows one of these and no failure is healthy, not insufficient.
_SERVING = re.compile(
    r"Application startup complete|fired up and ready to roll|server is listening on|Uvicorn running on|"
    r"Avg prompt throughput|prompt eval time|\beval time =|Decode batch|Prefill batch|HTTP/1\.[01]\" 200\b|"
    r"llama runner started|main: model loaded|Listening on http|"
    r"Deployed app|Serving model|Started the HTTP server|Connected to the inference server|"
    # Ollama's `Listening on 127.0.0.1:11434 (version …)` and its GIN request lines, llama-server's request and idle
    # lines, vLLM's API server start and routes, Triton's services, Gradio and KoboldCpp endpoints
    r"Listening on \[?[\w.:-]+\]?:\d+|\| 200 \|.*\| (?:GET|POST|HEAD)|request: (?:GET|POST) \S+ \S+ 200\b|all slots are idle|"
    r"Starting vLLM API server|Available routes are|Started (?:GRPCInferenceService|HTTPService|Metrics Service) at|"
    r"Running on local URL|Please connect to custom endpoint at|"
    # Ollama's GPU report after its server started (`msg="inference compute" id=0 library=cuda …`, discover/types.go)
    r"\binference compute\b|"
    # LM Studio's server: `[LM STUDIO SERVER] Success! HTTP server listening on port 1234` (printed so in lmstudio-ai/lms#425),
    # its status `Reachable at:` (lmstudio-ai/lmstudio-bug-tracker#1879)
    r"http server listening on port|\breachable at:",
    re.I,
)
# A model starting to load: after the last ready line, the server that came up is a front end still waiting for its
# model (FastChat/Chatchat's API then `Loading the model ['chatglm3-6b'] on worker …`), so the log stops short.
_LOADING = re.compile(r"\bloading (?:the )?model\b|loading checkpoint shards|\bload_tensors:|\bloading weights\b(?! took)")


def window(scan: ScanResult) -> Window:
    """The log's kept lines (head, tail, failure lines), one per number, normalised: built once per scan, then every
    tier and refinement reads the same one."""
    if scan.window is None:
        scan.window = _window(scan)
    return scan.window


def _window(scan: ScanResult) -> Window:
    numbered: dict[int, str] = {}
    for start, blob in ((1, scan.head), (scan.tail_start, scan.tail)):
        for i, raw in enumerate(blob.decode("utf-8", "replace").split("\n")[:-1] if blob else ()):
            numbered.setdefault(start + i, raw)
    for n, raw in scan.failures + scan.last_failures:
        numbered.setdefault(n, raw)
    return normalise(sorted(numbered.items()))


def decided(items: list[Item]) -> bool:
    """An exact tier named a cause (a problem of error severity other than `other`)."""
    return any(i.severity == "error" and i.category != "other" for i in items)


@functools.lru_cache(maxsize=4)
def _loose(sigs: tuple[Signature, ...]) -> tuple[tuple[str, re.Pattern, Signature], ...]:
    """Each signature's literal (lower case, spaces collapsed) and its regex, case-insensitive, spaces loose."""
    out = []
    for s in sigs:
        try:
            pattern = re.compile(re.sub(r"(?<!\\) ", r"\\s+", s.pattern.pattern), re.I)
        except re.error:
            pattern = re.compile(s.pattern.pattern, re.I)
        out.append((re.sub(r"\s+", " ", s.literal.lower()), pattern, s))
    return tuple(out)


def loose_events(win: Window, sigs: Iterable[Signature], known: dict[str, Event]) -> dict[str, Event]:
    """Signatures matched on normalised lines that the exact pass missed (case, spacing, envelopes). The
    lower-case literals are found in one prefilter pass over the window; only the lines they hit are matched."""
    out: dict[str, Event] = {}
    by_literal: dict[bytes, list] = {}
    for literal, pattern, sig in _loose(tuple(sigs)):
        if sig.id not in known:
            by_literal.setdefault(literal.encode(), []).append((pattern, sig))
    if not by_literal or not win.lines:
        return out
    blob, starts = win.joined()
    for pos, literal in _loose_prefilter(tuple(sorted(by_literal))).hits(blob):
        line = win.lines[bisect.bisect_right(starts, pos) - 1]
        for pattern, sig in by_literal.get(literal, ()):
            if sig.id in out:
                continue
            m = pattern.search(line.text)
            if m:
                groups = {k: v for k, v in m.groupdict().items() if v is not None}
                out[sig.id] = Event(sig, line.number, groups, evidence=[(line.number, line.raw)], count=1)
    return out


@functools.lru_cache(maxsize=4)
def _loose_prefilter(literals: tuple[bytes, ...]):
    """One pattern of every lower-case literal (RE2 where installed), compiled once per signature set."""
    from v4doctor.logs.prefilter import compile_prefilter

    return compile_prefilter([x.decode() for x in literals])


def concept_items(win: Window, scan: ScanResult) -> list[Item]:
    """The strongest concept rule that fires on a failure the server did not come up after, then the next one
    of another category (less confident), so that a second cause the log shows is listed after the first."""
    from v4doctor.logs.concepts import MAX_CONFIDENCE, hits

    ready = scan.facts.lines.get("ready", 0)
    out: list[Item] = []
    for hit in hits(win):
        if ready and ready > hit.line.number or any(i.category == hit.concept.category for i in out):
            continue
        c = hit.concept
        confidence = round(min(c.confidence, MAX_CONFIDENCE, 0.2 + 0.15 * hit.weight) - (0.1 if out else 0), 2)
        evidence = [(hit.line.number, evidence_text(hit.line.raw))]
        out.append(Item(id=c.id, category=c.category, severity="error", confidence=confidence,
                        title=c.title, cause=c.cause + f" (concept rule: line {hit.line.number} reads so, in no wording a signature knows.)",
                        fix=c.fix, troubleshooting=c.troubleshooting, evidence=evidence, line=hit.line.number, matched=[c.id]))
        if len(out) == 2:
            break
    return out


def serving(win: Window, scan: ScanResult) -> bool:
    """The log shows the server up or working (it may still be cut before a later failure), and no model starts
    loading after its last ready line."""
    last = max(_last_serving(win, progress=False), scan.facts.lines.get("ready", 0))
    if not last:
        return False
    loading = [ln.number for ln in win.lines_matching(_LOADING) if _LOADING.search(ln.norm)]
    return not loading or loading[-1] < last


_DOCKER_RUN = re.compile(r"\bdocker run\b")
_SHM_FLAGS = re.compile(r"--ipc[= ]host|--shm-size|--ipc=shareable")
_SHM_FAILURE = re.compile(r"bus error|no space left on device|errno 28|enospc", re.I)
_DISK_PATH = re.compile(r"(?<![\w/])/(?!dev/shm)(?:[\w.-]+/)+")


def shm_from_plan(win: Window, items: list[Item]) -> Item | None:
    """A `docker run` without --ipc=host/--shm-size, then a Bus error or an ENOSPC naming no disk path: the
    container's 64 MB /dev/shm, whatever the error line says (the launch plan is evidence)."""
    command = next((ln for ln in win.lines if _DOCKER_RUN.search(ln.text)), None)
    if command is None or _SHM_FLAGS.search(command.text):
        return None
    failure = next((ln for ln in win.failures if ln.number > command.number and _SHM_FAILURE.search(ln.text)
                    and not _DISK_PATH.search(ln.text)), None)
    if failure is None or any(i.category == "nccl_or_shm" for i in items):
        return None
    return Item(
        id="DIAG-DOCKER-SHM", category="nccl_or_shm", severity="error", confidence=0.6,
        title="The container runs with Docker's default 64 MB /dev/shm",
        cause=f"The `docker run` at line {command.number} sets neither --ipc=host nor --shm-size, and line "
              f"{failure.number} fails on shared memory (Bus error / no space, with no disk path): the workers "
              "exchange tensors through /dev/shm, which Docker caps at 64 MB.",
        fix="Add --ipc=host (or --shm-size=16g) to the docker run command; in compose set `ipc: host` or `shm_size: 16gb`.",
        troubleshooting="shm-too-small", evidence=[(command.number, evidence_text(command.raw)), (failure.number, evidence_text(failure.raw))],
        line=failure.number, matched=["DIAG-DOCKER-SHM"],
    )


_RECOVERY_HINTS = (b"[y/n]", b"retrying with", b"falling back", b"fallback", b"fall back")


def recovered(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """The error items dropped when a recovery line comes after all their evidence and no failure line comes
    after it (a consent answered yes ends the log; a retry or fallback must be followed by a line that goes on).
    None when nothing recovered."""
    errors = [i for i in items if i.severity == "error"]
    ends = (scan.head + scan.tail).lower()
    if not errors or not any(k in ends for k in _RECOVERY_HINTS):
        return None
    win = window(scan)
    at = recovery(win)
    if at is None:
        return None
    last = max((n for i in errors for n, _ in i.evidence), default=0)
    if last >= at.number:
        return None
    kept = [i for i in items if i.severity != "error"]
    return kept if kept or serving(win, scan) else [insufficient(scan)]


_COMPUTE_BUFFER = re.compile(r"failed to allocate (?:the )?compute (?:pp |tg )?buffers?|compute (?:pp )?buffer allocation failed")
_ALLOC = re.compile(r"cudamalloc failed|hipmalloc failed|alloc_buffer|failed to allocate \w+ buffer|out of memory", re.I)


def compute_buffer(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """llama.cpp (and Ollama, LM Studio, llama-cpp-python on it) placed the weights and the KV cache, then could
    not allocate the compute buffer, whose size follows the context and batch (-c, -b, -ub): the context does not
    fit, not the weights. The allocation item stays, second."""
    ends = scan.head + scan.tail
    if b"compute" not in ends or not any(i.category == "oom_weights" and i.severity == "error" for i in items):
        return None
    win = window(scan)
    line = next((ln for ln in win.lines_matching(_COMPUTE_BUFFER) if _COMPUTE_BUFFER.search(ln.norm)), None)
    first = next(i for i in items if i.category == "oom_weights" and i.severity == "error")
    if line is None or not any(_ALLOC.search(text) for _, text in first.evidence) or first.line > line.number:
        return None
    item = Item(
        id="DIAG-COMPUTE-BUFFER", category="kv_cache_too_small", severity="error", confidence=0.6,
        title="The weights are placed; the compute buffer for this context and batch does not fit",
        cause=f"Line {line.number}: the engine could not allocate its compute buffer after loading the weights. That "
              "buffer grows with the context (-c / num_ctx) and the batch sizes (-b, -ub), and with pipeline "
              "parallelism over several GPUs it is allocated once per copy.",
        fix="Lower the context (-c, or num_ctx in Ollama) or the batch sizes (-b / -ub), quantize the KV cache "
            "(--cache-type-k q8_0 --cache-type-v q8_0, with flash attention), or offload one layer less (-ngl) to "
            "leave room for the buffer.",
        troubleshooting="kv-cache-too-small", evidence=sorted({(line.number, evidence_text(line.raw)), *first.evidence[:2]}),
        line=first.line, matched=["DIAG-COMPUTE-BUFFER", *first.matched],
    )
    return [item] + items


# Failures that stop a server before it serves: when the same log shows the server up or serving after the
# failure's last line, that failure did not stop it (a retry, a fallback, a second attempt that worked).
# (`other` is left to the tiers below: the server coming up after it drops it and the tiers read on.)
_STARTUP_ONLY = frozenset({
    "arch_unsupported_engine_too_old", "gguf_bad_file_or_arch", "trust_remote_code", "driver_too_old_or_cuda_mismatch",
    "gpu_arch_unsupported", "quantization_unsupported", "tp_size_mismatch", "docker_gpu_runtime", "port_in_use",
    "hf_auth_or_gated", "hf_rate_limit_or_network", "corrupt_or_incomplete_weights", "disk_full",
})
_SERVING_BYTES = re.compile(_SERVING.pattern.encode(), re.I)


def survived(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """Start-up failures the server came up after (a ready/serving line after all their evidence) are warnings,
    not alarms: the log shows they did not stop it. None when nothing changes."""
    errors = [i for i in items if i.severity == "error" and i.category in _STARTUP_ONLY and i.evidence]
    if not errors or not ("ready" in scan.facts.lines or _SERVING_BYTES.search(scan.tail or scan.head)):
        return None
    served = max(_last_serving(window(scan)), scan.facts.lines.get("ready", 0))
    late = [i for i in errors if _up_after(served, i)]
    if not late or len(late) < sum(i.severity == "error" for i in items):
        return None  # another error is not followed by a serving line: the log still failed
    out = []
    for i in items:
        if any(i is x for x in late):
            i = replace(i, severity="warning", confidence=min(i.confidence, 0.3),
                        cause=i.cause + f" The server came up after it (line {served}), so it did not stop the start.")
        out.append(i)
    return out


_QUANT_CODE = re.compile(r"/awq/|\bawq_|/gptq|gptq_|marlin|/quantization/|/quantize/|quantizer|bitsandbytes|mxfp4|nvfp4|fp8_|_fp8|w4a16|w8a8|"
                         r"weightonly\w*quant|quantmatmul")  # TensorRT-LLM's weight-only quantized GEMM plugins
_QUANT_BYTES = (b"awq", b"gptq", b"marlin", b"quantiz", b"bitsandbytes", b"fp4", b"fp8", b"w4a16", b"w8a8", b"quantmatmul")


def quantized_kernel(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """A GPU without a kernel for the code that failed, when that code is a quantized format's (the traceback's
    frames or the failure lines name AWQ/GPTQ/Marlin/FP8/bitsandbytes/quantization modules): the definitions put
    it under `quantization_unsupported` (the fix is another format, not another engine build)."""
    top = next((i for i in items if i.severity == "error"), None)
    if top is None or top.category != "gpu_arch_unsupported":
        return None
    ends = (scan.head + scan.tail).lower()
    if not any(k in ends for k in _QUANT_BYTES):
        return None
    win = window(scan)
    near = [f for f in win.frames] + [ln.norm for ln in win.failures if ln.number <= top.line + 2]
    if not any(_QUANT_CODE.search(x) for x in near) or any("deep_gemm" in x or "deepgemm" in x for x in near):
        return None  # DeepGEMM is the engine's own kernel library (its FP8 GEMMs too): missing it is no format's fault
    item = replace(top, category="quantization_unsupported", id="DIAG-QUANTIZED-KERNEL", troubleshooting="quantization-unsupported",
                   title="The quantized format's kernel has no build for this GPU",
                   cause=top.cause + " The code that failed is a quantized format's kernel (the traceback or the failure "
                         "lines name it), so the format, not the engine build, is what this GPU cannot run.",
                   fix="Use a checkpoint in a format this GPU has kernels for (BF16/FP16, or a GGUF on older GPUs), or a GPU "
                       "of the compute capability the format needs. " + top.fix,
                   matched=["DIAG-QUANTIZED-KERNEL", *top.matched])
    return [item if i is top else i for i in items]


_OOM = re.compile(r"out of memory|cudamalloc failed|outofmemoryerror|failed to allocate|hipmalloc|not enough memory|\boom\b")
# Printed once the weights are placed, or while serving: an OOM after one of these is the KV cache's or the context's.
_AFTER_LOAD = re.compile(
    r"loading weights took|model loading took|model weights took|load weight end|loading checkpoint shards: 100%|memory profiling|"
    r"# gpu blocks|kv cache is allocated|memory pool end|capturing cuda ?graph|capture cuda graph|graph capturing|llama_kv_cache|"
    r"kv self size|llama_new_context_with_model|llama_init_from_model|compute buffer|available kv cache memory|maximum concurrency|"
    r"output generated|prompt eval|prefill batch|decode batch|avg prompt throughput")
# The code that ran out: generation and the KV cache's allocation, against loading the weights.
_KV_CODE = re.compile(
    r"past_key_value|key_states|value_states|kv_cache|key_cache|value_cache|\.generate\(|generation/utils|_sample\(|beam_search|"
    r"prefill|decode|allocate_kv|kv cache|initialize_kv_cache|profile_run|_dummy_run|determine_num_available_blocks|init_memory_pool|"
    r"capture_model|cuda_graph")
_LOAD_CODE = re.compile(
    r"from_pretrained|load_state_dict|load_weights|weight_loader|model_loader|load_checkpoint|_load_pretrained_model|"
    r"set_module_tensor_to_device|\.to\(|\.cuda\(|load_model|loading checkpoint shards|llm_load_tensors|load_tensors")


# OOM signatures that already say which allocation failed (SGLang's CUDA-graph capture, vLLM's free memory at start-up,
# Ollama's system memory): their own fix stands.
_PHASED_OOM = frozenset({"SIG-SGLANG-CUDA-GRAPH-OOM", "SIG-VLLM-FREE-MEMORY-LESS", "SIG-OLLAMA-SYSTEM-MEMORY"})


def oom_after_load(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """An OOM named `oom_weights` that came after the weights were placed (a load-done line, a served request) or in
    generation code (the KV cache, `past_key_value`, the engine's KV profiling) and not in loading code: the context or
    the KV cache does not fit, not the weights. The OOM item stays, second. Not when the launch plan says the weights
    cannot fit (a V4D finding)."""
    top = items[0] if items and items[0].severity == "error" else None
    if top is None or top.category != "oom_weights" or any(m.startswith("V4D") or m in _PHASED_OOM for m in top.matched):
        return None
    win = window(scan)
    first = next((ln for ln in win.lines if _OOM.search(ln.norm)), None)
    if first is None:
        return None
    before = [ln for ln in win.lines if ln.number < first.number]
    near = [ln.norm for ln in before[-40:]] + [first.norm]
    served = any(ln.number < first.number and _SERVING.search(ln.text) for ln in win.lines_matching(_SERVING))
    loaded = any(_AFTER_LOAD.search(ln.norm) for ln in before)
    kv_code = _KV_CODE.search(" ".join(win.frames + near))
    load_code = _LOAD_CODE.search(" ".join(win.frames + near[-15:]))
    if not (served or loaded or (kv_code and not load_code)):
        return None
    why = ("the server had come up" if served else "the weights had loaded" if loaded else
           f"the code that ran out is generation's or the KV cache's (`{kv_code.group(0)}`)")
    item = Item(
        id="DIAG-OOM-AFTER-LOAD", category="kv_cache_too_small", severity="error", confidence=max(0.05, round(top.confidence - 0.02, 2)),
        title="Out of memory after the weights were placed: the context or the KV cache does not fit",
        cause=f"Line {first.number} ran out of GPU memory after {why}: the weights fit, the memory for the KV cache, the "
              "context or the batch in flight does not.",
        fix="Lower the context (--max-model-len, --context-length, -c / num_ctx), the requests or slots in parallel "
            "(--max-num-seqs, --parallel / OLLAMA_NUM_PARALLEL, --max-batch-total-tokens) or the prefill chunk "
            "(--max-num-batched-tokens); raise the engine's memory fraction if it leaves room; or add GPUs.",
        troubleshooting="kv-cache-too-small", evidence=top.evidence, line=top.line, matched=["DIAG-OOM-AFTER-LOAD", *top.matched],
    )
    return [item] + items


_OLLAMA = (b"ollama", b"llama runner", b"llama-server process has terminated")


def ollama_mllama(scan: ScanResult, items: list[Item]) -> list[Item] | None:
    """'mllama' is Ollama's own Llama 3.2 Vision format: a file no mainline llama.cpp reads, but in an Ollama log the
    Ollama is the one too old for it (later Ollama releases read it), so the engine-too-old item ranks first."""
    top = items[0] if items else None
    if top is None or top.id != "SIG-GGUF-ARCH-NOT-A-MAINLINE-LLM" or not any("'mllama'" in t for _, t in top.evidence):
        return None
    ends = (scan.head + scan.tail).lower()
    old = next((i for i in items if i.id == "SIG-LLAMACPP-UNKNOWN-ARCH"), None)
    if old is None or not any(k in ends for k in _OLLAMA):
        return None
    return [old] + [i for i in items if i is not old]


def kv_allocation(items: list[Item]) -> list[Item] | None:
    """An allocation failure whose next lines say it was the KV cache's buffer (llama.cpp's `failed to allocate
    buffer of size N` then `llama_kv_cache_init: failed to allocate buffer for kv cache`): the context does not
    fit, not the weights; the allocation item stays, second."""
    first = next((i for i in items if i.severity == "error"), None)
    kv = next((i for i in items if i.category == "kv_cache_too_small" and i.severity == "error"), None)
    if first is None or kv is None or first.category != "oom_weights" or not 0 < kv.line - first.line <= 3:
        return None
    if not any(_ALLOC.search(text) for _, text in first.evidence):
        return None
    return [kv] + [i for i in items if i is not kv]


def refine(scan: ScanResult, items: list[Item], rerank) -> list[Item]:
    """Run the tiers after the exact ones; `rerank(events)` ranks again with more signature events; then a
    missing kernel of a quantized format's code is `quantization_unsupported` whichever tier found it."""
    items = _refine(scan, items, rerank)
    items = quantized_kernel(scan, items) or oom_after_load(scan, items) or ollama_mllama(scan, items) or items
    return with_second_opinion(scan, items)


def with_second_opinion(scan: ScanResult, items: list[Item]) -> list[Item]:
    """After a failure the rules named (an error item with a cause), the learned classifier's own answer when it
    names another cause: listed last, less confident than every rule's item, so the top answer never changes."""
    errors = [i for i in items if i.severity == "error"]
    if (not errors or errors[0] is not items[0] or items[0].category in ("other", "insufficient_evidence") or len(items) >= 3
            or items[0].id == "DIAG-LEARNED"):  # the classifier already gave its answer first
        return items
    from v4doctor.logs.learned import second_opinion

    extra = second_opinion(window(scan), {i.category for i in items}, min(i.confidence for i in items))
    return items + [extra] if extra is not None else items


def _refine(scan: ScanResult, items: list[Item], rerank) -> list[Item]:
    after = recovered(scan, items)
    if after is not None:
        return after
    after = survived(scan, items)
    if after is not None:
        return after
    after = compute_buffer(scan, items) or kv_allocation(items)
    if after is not None:
        return after
    ends = (scan.head + scan.tail).lower() if b"docker run" in scan.head or b"docker run" in scan.tail else b""
    docker = bool(ends) and any(k in ends for k in (b"bus error", b"no space left", b"errno 28", b"enospc"))
    if docker and (any(i.category in ("disk_full", "other") and i.severity == "error" for i in items) or not decided(items)):
        win = window(scan)
        shm = shm_from_plan(win, items)
        if shm is not None:
            return [shm] + [i for i in items if i.category not in ("disk_full", "other")]
    if decided(items):
        return items
    win = window(scan)
    from v4doctor.logs.signatures import load_signatures

    extra = loose_events(win, load_signatures(), scan.events)
    if extra:
        ranked = rerank({**extra, **scan.events})
        if decided(ranked):
            return ranked
    other = next((i for i in items if i.category == "other" and i.severity == "error"), None)
    if other is not None and other.id == "SIG-OTHER" and not win.failures and not any(WRAPPER.search(ln.norm) for ln in win.lines):
        items, other = [i for i in items if i is not other], None  # read normalised, no line of the log is a failure
    served = _last_serving(win)
    if other is not None and _up_after(served, other):
        items, other = [i for i in items if i is not other], None  # the server came up after it: no failure
    found, *second = concept_items(win, scan) or [None]
    if found is None:
        from v4doctor.logs.quality import quality_item

        found = quality_item(win)
    real = [ln for ln in win.failures if not WRAPPER.search(ln.norm) and not _up_after(served, ln)]
    if found is None and (other is not None or real):
        if not real:
            found = insufficient(scan, failed=True)
        else:
            from v4doctor.logs.learned import learned_item

            found = learned_item(win) or (None if other is not None else unrecognised(real))
            if found is not None and other is None and went_on(win, real):
                found = replace(found, severity="warning", confidence=min(found.confidence, 0.2),
                                cause=found.cause + f" The log goes on for {GOES_ON} lines or more after it without another "
                                                    "failure, so it may not have stopped anything.")
    if found is not None:
        if other is not None:
            found.evidence = sorted(set(found.evidence + other.evidence))[:6]
            found.matched += other.matched
            items = [found if i is other else i for i in items]
        else:
            items = [found, *items]
        at = items.index(found) + 1
        return items[:at] + second + items[at:]
    if not items:
        from v4doctor.logs.quality import slow_download_item, slow_prefill_item

        slow = slow_download_item(win) or slow_prefill_item(win)
        if slow is not None:
            return [slow]
    if not items and not serving(win, scan):
        items = [second_look(win, scan) or insufficient(scan)]
    return items


def second_look(win: Window, scan: ScanResult) -> Item | None:
    """No line reads as a failure and none shows the server up: before saying the log stops short, read its untagged
    lines (not INFO/WARNING/DEBUG, not an echoed configuration) as failure lines, for an excerpt pasted without its
    error prefix (`… is not compatible with the current PyTorch installation`, `unknown tensor '' in model file`).
    What the concept rules find there is a warning, never an alarm: no line of the log says it failed. (The learned
    classifier is not asked here: on healthy logs' untagged lines it guessed.)"""
    from v4doctor.logs.concepts import CONFIG_ECHO

    lines = [ln for ln in win.lines if not ln.quiet and not CONFIG_ECHO.search(ln.norm)]
    if not lines:
        return None
    alt = replace(win, failures=lines)
    found = next(iter(concept_items(alt, scan)), None)
    if found is None:
        return None
    return replace(found, severity="warning", confidence=round(max(0.05, found.confidence - 0.05), 2),
                   cause=found.cause + " No line of this log is marked as an error: this is read from its untagged "
                                       "lines, and the log may stop before its failure.")


GOES_ON = 3  # lines of ordinary output after an unknown failure line: the process kept working (3: chosen on the held-out tier counts, 8 changed nothing)


def went_on(win: Window, real) -> bool:
    """The log's own lines go on after its last unknown failure line, none of them a failure: the process kept
    working (a logged exception it handled, a retry), so an unknown wording there is no alarm."""
    last = max(ln.number for ln in real)
    after = [ln for ln in win.lines if ln.number > last]
    return len(after) >= GOES_ON and not any(ln.number > last for ln in win.failures)


def _last_serving(win: Window, progress: bool = True) -> int:
    """The number of the window's last ready/serving line (0: none), found once per log: searching the
    lines after every failure line was quadratic (a 160 KB log of failure lines took 28 s). With `progress`, a
    start-up step that shows an earlier failure did not stop the process counts too (Ray's `Started a local Ray
    instance`), though it is no sign that the model serves."""
    found = [ln for ln in win.lines_matching(_SERVING) if _SERVING.search(ln.text)]
    if progress:
        found += [ln for ln in win.lines_matching(_PROGRESS) if _PROGRESS.search(ln.text)]
    return max((ln.number for ln in found), default=0)


_PROGRESS = re.compile(r"Started a local Ray instance", re.I)


def _up_after(last_serving: int, line) -> bool:
    """A ready/serving line comes after this failure line (or diagnosis): the server survived it."""
    number = line.number if hasattr(line, "number") else max((n for n, _ in line.evidence), default=line.line)
    return last_serving > number


def unrecognised(lines) -> Item:
    """A failure the scan's own markers missed (another wording) and no tier knows: `other`, no guess."""
    first, last = lines[0], lines[-1]
    evidence = sorted({(ln.number, evidence_text(ln.raw)) for ln in (first, last)})
    return Item(
        id="SIG-OTHER", category="other", severity="error", confidence=0.2, title="Unrecognised failure",
        cause="v4doctor does not recognise this failure, so it names no cause; the error lines it saw are shown.",
        fix="Read the first error line below (the earliest is usually the cause) and search it in the engine's issues; "
            "`v4doctor run` checks the host and the launch plan.",
        troubleshooting=None, evidence=evidence, line=first.number,
    )


def insufficient(scan: ScanResult, failed: bool = False) -> Item:
    """No failure and no sign the server came up (info), or only lines that say it failed, not why (error):
    either way the log stops before the evidence of its cause."""
    if failed:
        return Item(
            id="DIAG-INSUFFICIENT-EVIDENCE", category="insufficient_evidence", severity="error", confidence=0.3,
            title="The log shows that it failed, but not why",
            cause="Only wrapper lines (failed to load, worker died, exit status, engine core initialization failed) are "
                  "in this log: the line that names the cause is above or outside the excerpt.",
            fix="Paste the whole log, from the launch command to the last line (`docker logs NAME 2>&1`, or the "
                "engine's stderr); for multi-process engines include every worker's lines.",
            troubleshooting=None, evidence=[], line=0,
        )
    return Item(
        id="DIAG-INSUFFICIENT-EVIDENCE", category="insufficient_evidence", severity="info", confidence=0.5,
        title="No failure in this log, and no sign that the server came up",
        cause=f"The log's {scan.lines} line{'s' if scan.lines != 1 else ''} show no error and no ready/serving line: "
              "it may stop before its failure.",
        fix="Paste the whole log, from the launch command to the last line (`docker logs NAME 2>&1`, or the engine's stderr).",
        troubleshooting=None, evidence=[], line=0,
    )


def text_window(text: str) -> Window:
    """The normalised window of a whole log held in a string (what the tiers would read): for training and tests."""
    from v4doctor.logs.reader import chunks_from_lines
    from v4doctor.logs.scan import Scanner
    from v4doctor.logs.signatures import load_signatures

    scanner = Scanner(load_signatures())
    for chunk in chunks_from_lines(text.splitlines()):
        scanner.feed(chunk)
    return window(scanner.result())
