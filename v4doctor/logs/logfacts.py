"""LogFacts: what a log says about the deploy (engine, version, model, args, GPUs, memory), read on the way.

Each extractor is a literal (prefilter) plus a regex over the cleaned line; the first value
wins (a log's start-up banner comes before any error), GPUs and memory lines accumulate (bounded).
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from v4doctor.output.redact import MASK

MAX_GPUS = 64


@dataclass
class LogFacts:
    engine: str | None = None
    engine_version: str | None = None
    model: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    command: str | None = None
    command_args: dict[str, Any] = field(default_factory=dict)  # the echoed command's flags (the engine's own args win)
    args_unparsed: list[str] = field(default_factory=list)  # arg names whose value is no plain literal (`AttentionConfig(...)`)
    gpus: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, str] = field(default_factory=dict)
    cuda_version: str | None = None
    driver_version: str | None = None
    torch_version: str | None = None
    lines: dict[str, int] = field(default_factory=dict)  # fact name -> line it was read from
    texts: dict[int, str] = field(default_factory=dict)  # line -> its text, for those lines only

    def filled(self, name: str) -> bool:
        """`set(name, …)` would change nothing: the fact has its value (`memory.KEY`: that memory line is read)."""
        if name.startswith("memory."):
            return name[7:] in self.memory
        return getattr(self, name) not in (None, {}, [])

    def set(self, name: str, value: Any, line: int) -> None:
        """Record a fact once: the first occurrence wins."""
        if value and getattr(self, name) in (None, {}, []):
            setattr(self, name, value)
            self.lines.setdefault(name, line)


# --------------------------------------------------------------------------- value parsers
_PY_VALUE = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|True|False|None|-?\d+(?:\.\d+)?(?:e-?\d+)?|\[[^\[\]]*\]|\{[^{}]*\}"""
_DICT_ITEM = re.compile(rf"'(?P<key>\w+)':\s*(?P<val>{_PY_VALUE})")
_DICT_KEY = re.compile(r"'(\w+)':\s")
_KW_ITEM = re.compile(rf"\b(?P<key>\w+)=(?P<val>{_PY_VALUE})")


_SECRET_KEY = re.compile(r"(?i)(?:^|[_.-])token(?:$|[_.-])|api[_-]?key|secret|passw")  # not tokenizer_mode


def parse_py_items(text: str, pattern: re.Pattern = _DICT_ITEM) -> dict[str, Any]:
    """Simple values of a printed Python dict or call. Sample: `{'model': 'x', 'tensor_parallel_size': 2}`.
    A secret-named key (`api_key`, `hf_token`) keeps its name, never its value."""
    import ast

    out: dict[str, Any] = {}
    for m in pattern.finditer(text):
        raw = m["val"]
        try:
            value = _CONSTANTS[raw] if raw in _CONSTANTS else _plain(raw) if raw[0] not in "[{" else ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):  # `{[1]}`: a set of lists
            continue
        out[m["key"]] = value
    return masked(out)


_CONSTANTS = {"True": True, "False": False, "None": None}
MAX_NUMBER_CHARS = 24  # a printed int64 or double fits; longer ones are skipped, not read


_ESCAPED = re.compile(r"[\\\x00\r\n]")  # what Python's tokenizer reads differently from the raw characters
_INT = re.compile(r"-?(?:0|[1-9]\d*)")  # `007` is a SyntaxError to ast, so left to it


def _plain(raw: str) -> Any:
    """A quoted string or number of `_PY_VALUE` as `ast.literal_eval` reads it, without compiling it
    (a start-up args line has dozens): `'x'` -> x, `-2` -> -2, `1e-05` -> 1e-05; anything else goes to ast."""
    import ast

    if raw[0] in "'\"":
        return ast.literal_eval(raw) if _ESCAPED.search(raw) else raw[1:-1]
    if len(raw) > MAX_NUMBER_CHARS:  # `1e999`, 5,000 digits: not a setting anyone printed
        raise ValueError(f"number of {len(raw)} characters")
    if "." in raw or "e" in raw:
        return float(raw)  # `1e999` is inf, as ast reads it; JSON output writes it as null (render.to_json)
    return int(raw) if _INT.fullmatch(raw) else ast.literal_eval(raw)


def masked(args: dict[str, Any]) -> dict[str, Any]:
    """Secret-named keys (`api_key`, `--hf-token`) keep their name, never their value."""
    return {k: MASK if v not in (None, False) and _SECRET_KEY.search(k) else v for k, v in args.items()}


# --------------------------------------------------------------------------- extractors
def _fills(*names: str) -> Callable:
    """Declare every fact a handler can fill (see `Extractor.done`); it must name all of them."""
    def mark(fn: Callable) -> Callable:
        fn.fills = names
        return fn

    return mark


@_fills("engine", "engine_version")
def _vllm_version(f: LogFacts, m: re.Match, line: int) -> None:
    """`vLLM API server version 0.20.1` or the banner `█ ▀▄▀ █  version 0.25.0`."""
    f.set("engine", "vllm", line)
    f.set("engine_version", m["version"], line)


@_fills("engine", "args", "args_unparsed", "model")
def _vllm_args(f: LogFacts, m: re.Match, line: int) -> None:
    """`non-default args: {'model_tag': '/models/DeepSeek-V4-Flash', 'tensor_parallel_size': 2, ...}`."""
    args = parse_py_items(m["args"])
    f.set("engine", "vllm", line)
    f.set("args", args, line)
    f.set("args_unparsed", [k for k in _DICT_KEY.findall(m["args"]) if k not in args], line)
    f.set("model", _text(args.get("model") or args.get("model_tag")), line)


@_fills("engine", "args", "model")
def _sglang_args(f: LogFacts, m: re.Match, line: int) -> None:
    """`server_args=ServerArgs(model_path='deepseek-ai/DeepSeek-V4-Flash', tp_size=4, ...)`."""
    args = parse_py_items(m["args"], _KW_ITEM)
    f.set("engine", "sglang", line)
    f.set("args", args, line)
    f.set("model", _text(args.get("model_path")), line)


@_fills("engine", "engine_version")
def _sglang_version(f: LogFacts, m: re.Match, line: int) -> None:
    f.set("engine", "sglang", line)
    f.set("engine_version", m["version"], line)


@_fills("engine", "engine_version")
def _llamacpp_build(f: LogFacts, m: re.Match, line: int) -> None:
    """`main: build = 3030 (504f0c34)`, `build: 9840 (8c146a836) with cc ...` or `build_info: b8943-4866913c2`."""
    f.set("engine", "llamacpp", line)
    f.set("engine_version", "b" + m["build"], line)


@_fills("model")
def _banner_model(f: LogFacts, m: re.Match, line: int) -> None:
    """vLLM banner: `█▄█▀ █     █     █     █  model   /models/DeepSeek-V4-Flash`."""
    f.set("model", m["model"], line)


@_fills("engine", "model")
def _gguf_model(f: LogFacts, m: re.Match, line: int) -> None:
    """`srv    load_model: loading model 'C:\\LLM\\DeepSeek-V4-Flash.gguf'` or `llama_model_loader: ... from /x.gguf`."""
    f.set("engine", "llamacpp", line)
    f.set("model", m["model"], line)


@_fills("command", "engine", "model", "command_args")
def _command(f: LogFacts, m: re.Match, line: int) -> None:
    """A launch command echoed in the log: `vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 8`."""
    f.set("command", m["cmd"].strip(), line)
    parsed = _command_fields(m["cmd"])
    if parsed is not None:
        engine, model, flags = parsed
        f.set("engine", engine, line)
        f.set("model", model, line)
        f.set("command_args", copy.deepcopy(flags) if any(isinstance(v, (list, dict)) for v in flags.values()) else dict(flags), line)


@functools.lru_cache(maxsize=64)
def _command_fields(cmd: str) -> tuple[str, str | None, dict[str, Any]] | None:
    """Engine, model and masked flags of an echoed command, parsed once per distinct text (a crash-looping
    container prints the same command at every restart). Callers copy the flags: the cache keeps them."""
    spec = _launch_spec(cmd)
    return None if spec is None else (spec.engine, spec.model, masked(spec.flags))


def _launch_spec(cmd: str):
    """The launch plan of an echoed command (v4doctor.launch), or None when it does not parse."""
    import shlex

    from v4doctor.errors import UsageError
    from v4doctor.launch import parse_command

    try:
        return parse_command(shlex.split(cmd))
    except (UsageError, ValueError):  # a cut or unbalanced line: the command stays text only
        return None
    except Exception:  # the launch parser's own bug must not stop a diagnosis; the command stays text only
        return None


def _text(value: Any) -> str | None:
    """A model name as text: `{'model': 7}` is no model name."""
    return value if isinstance(value, str) else None


def _gpu(f: LogFacts, m: re.Match, line: int) -> None:
    """`Device 0: NVIDIA RTX PRO 6000 ..., compute capability 12.0, VMM: yes` or `GPU 0: NVIDIA H200`."""
    if len(m["index"]) > 6:  # a device index of 5,000 digits is no device
        return
    idx = int(m["index"])
    if len(f.gpus) < MAX_GPUS and all(g["index"] != idx for g in f.gpus):
        gd = m.groupdict()
        vram = gd.get("vram")  # a VRAM of 5,000 digits is no reading (and past int()'s 4,300-digit limit)
        f.gpus.append({"index": idx, "name": m["name"].strip(), "cc": gd.get("cc"), "vram_mib": vram if vram and len(vram) <= 9 else None})
        f.lines.setdefault("gpus", line)


def _engine(name: str) -> Callable[[LogFacts, re.Match, int], None]:
    def record(f: LogFacts, m: re.Match, line: int) -> None:
        f.set("engine", name, line)

    record.__doc__ = f"A line only {name} prints (its loader, server or worker), naming the engine."
    return _fills("engine")(record)


_ENGINE_MARKERS = {
    "vllm": ("Starting vLLM API server", "[kv_cache_utils.py:", "[gpu_worker.py:", "[launcher.py:", "vllm.entrypoints", "(EngineCore",
             "EngineCore failed to start", "[multiproc_executor.py:"),
    "sglang": ("Load weight end.", "sglang.launch_server", "sglang/srt/"),
    "llamacpp": ("llama_model_loader: ", "llama_model_load: ", "ggml_cuda_init: ", "llama_server: ", "main: server is listening", "load_tensors: ", "slot print_timing:", "slot update_slots:"),
    "ollama": ("level=INFO source=",),
}


def _ready(f: LogFacts, m: re.Match, line: int) -> None:
    """The server came up: uvicorn `Application startup complete.`, SGLang `The server is fired up and ready
    to roll!`, llama.cpp `main: server is listening on …`. The last one is kept."""
    f.lines["ready"] = line


READY_MARKERS = ("Application startup complete.", "The server is fired up and ready to roll", "server is listening on")


def _memory(key: str) -> Callable[[LogFacts, re.Match, int], None]:
    def record(f: LogFacts, m: re.Match, line: int) -> None:
        if key not in f.memory:
            f.memory[key] = m["value"]
            f.lines.setdefault(f"memory.{key}", line)

    record.__doc__ = f"Memory line `{key}` (first occurrence)."
    return _fills(f"memory.{key}")(record)


@_fills("driver_version", "cuda_version")
def _driver(f: LogFacts, m: re.Match, line: int) -> None:
    """nvidia-smi header `Driver Version: 570.133.20   CUDA Version: 12.8` or collect_env `Nvidia driver version: 550.120`."""
    f.set("driver_version", m["driver"], line)
    if m.groupdict().get("cuda"):
        f.set("cuda_version", m["cuda"], line)


def _simple(name: str) -> Callable[[LogFacts, re.Match, int], None]:
    def record(f: LogFacts, m: re.Match, line: int) -> None:
        f.set(name, m["value"], line)

    return _fills(name)(record)


class Extractor(NamedTuple):
    """One LogFacts reader: a literal prefilter, a regex on the cleaned line, the handler, and the fact it
    fills (`None`: it accumulates). The scanner stops looking for the literal once that fact is read.
    A handler's `fills` (set by `_fills`) names every fact it can fill: once all are, the scanner skips it
    on the lines that still reach it; a handler without one accumulates and always runs."""

    literal: str
    pattern: re.Pattern
    handle: Callable[[LogFacts, re.Match, int], None]
    fact: str | None

    def done(self, f: LogFacts) -> bool:
        """Every fact the handler can fill (its `fills`) is filled already: running it would change nothing."""
        fills = getattr(self.handle, "fills", ())
        return bool(fills) and all(f.filled(name) for name in fills)


_BUILD = re.compile(r"^(?:main: )?build(?:_info)?(?::| =)\s*b?(?P<build>\d{3,6})\b")
_V = r"(?P<version>v?\d+\.\d+[\w.+-]*)"
EXTRACTORS: list[Extractor] = [
    Extractor("vLLM API server version", re.compile(rf"vLLM API server version {_V}"), _vllm_version, "engine_version"),
    Extractor("█  version ", re.compile(rf"█\s+version\s+{_V}"), _vllm_version, "engine_version"),
    Extractor("non-default args:", re.compile(r"non-default args:\s*(?P<args>\{.*)"), _vllm_args, "args"),
    Extractor("█  model ", re.compile(r"█\s+model\s+(?P<model>\S+)"), _banner_model, "model"),
    Extractor("server_args=ServerArgs(", re.compile(r"server_args=ServerArgs\((?P<args>.*)"), _sglang_args, "args"),
    Extractor("sglang version", re.compile(rf"\bsglang version[:=]?\s*{_V}", re.I), _sglang_version, "engine_version"),
    *[Extractor(lit, _BUILD, _llamacpp_build, "engine_version") for lit in ("build = ", "build: ", "build_info: ")],
    Extractor("loading model '", re.compile(r"load_model: loading model '(?P<model>[^']+)'"), _gguf_model, "model"),
    Extractor("vllm serve ", re.compile(r"(?:^|\$\s*|\s)(?P<cmd>vllm serve\s+\S.*)"), _command, "command"),
    Extractor("sglang.launch_server", re.compile(r"(?:^|\$\s*|\s)(?P<cmd>python3? -m sglang\.launch_server\s.*)"), _command, "command"),
    Extractor("vllm.entrypoints.openai.api_server ", re.compile(r"(?:^|\$\s*|\s)(?P<cmd>python3? -m vllm\.entrypoints\.openai\.api_server\s.*)"), _command, "command"),
    Extractor("docker run ", re.compile(r"(?:^|\$\s*|\s)(?P<cmd>docker run\s.*)"), _command, "command"),
    Extractor("compute capability", re.compile(r"^Device (?P<index>\d+): (?P<name>[^,]+), compute capability (?P<cc>\d+\.\d+)(?:.*VRAM: (?P<vram>\d+) MiB)?"), _gpu, None),
    Extractor(": NVIDIA ", re.compile(r"(?:^|GPU models and configuration:\s*)GPU (?P<index>\d+): (?P<name>NVIDIA [^(]+?)\s*(?:\(UUID.*)?$"), _gpu, None),
    *[Extractor(lit, re.compile(re.escape(lit)), _engine(name), "engine") for name, lits in _ENGINE_MARKERS.items() for lit in lits],
    *[Extractor(lit, re.compile(re.escape(lit)), _ready, None) for lit in READY_MARKERS],
    Extractor("Model loading took", re.compile(r"Model loading took (?P<value>[\d.]+ ?Gi?B)"), _memory("model_loading"), "memory.model_loading"),
    Extractor("Available KV cache memory", re.compile(r"Available KV cache memory: (?P<value>[\d.]+ ?Gi?B)"), _memory("kv_cache_available"), "memory.kv_cache_available"),
    Extractor("GPU KV cache size", re.compile(r"GPU KV cache size: (?P<value>[\d,]+ tokens)"), _memory("kv_cache_tokens"), "memory.kv_cache_tokens"),
    Extractor("Maximum concurrency", re.compile(r"(?P<value>Maximum concurrency for [\d,]+ tokens per request: [\d.]+x)"), _memory("max_concurrency"), "memory.max_concurrency"),
    Extractor("Driver Version", re.compile(r"Driver Version: (?P<driver>\d+\.\d+(?:\.\d+)?)(?:\s+CUDA Version: (?P<cuda>\d+\.\d+))?"), _driver, "driver_version"),
    Extractor("Nvidia driver version", re.compile(r"Nvidia driver version: (?P<driver>\d+\.\d+(?:\.\d+)?)"), _driver, "driver_version"),
    Extractor("CUDA used to build PyTorch", re.compile(r"CUDA used to build PyTorch: (?P<value>\d+\.\d+)"), _simple("cuda_version"), "cuda_version"),
    Extractor("PyTorch version", re.compile(r"PyTorch version: (?P<value>\d+\.\d+\.\d+\S*)"), _simple("torch_version"), "torch_version"),
]
