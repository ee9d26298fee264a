"""The one library behind both faces: every operation v4doctor has is a function here.

The CLI (`v4doctor.cli`) only parses arguments, calls one of these and renders the result; the HTTP
server (`v4doctor.server`) only validates a request, calls one of these and answers. Each function
takes plain arguments and returns a result object with `to_dict()` (or plain data).

Two kinds of operation:
- **pure** ones judge only what they are given and never read a file, run a program or touch the
  network: `diagnose`, `check`, `fix`, `fit` (given `gpus`), `checks`, `explain`, `models`. The
  server uses only these (its sandbox enforces it).
- **host** ones read this machine through the collectors: `run`, `snapshot`, `gguf`, `probe`,
  `diagnose_file`, `read_plan`, `write_fix`, `load_facts`.

Emit results through `redact_result(result.to_dict())`: results hold the input, secrets included.
"""

from __future__ import annotations

import copy
import importlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from v4doctor.errors import UsageError
from v4doctor.facts import Facts, FactsError, TargetFacts, Unknown, facts_from_json, facts_to_json, known
from v4doctor.output.redact import redact

__all__ = [
    "diagnose", "diagnose_file", "check", "run", "snapshot", "fix", "read_plan", "write_fix", "fit", "gguf",
    "probe", "checks", "explain", "models", "load_facts", "facts_for", "redact_result", "FeatureUnavailable", "plan",
    "run_fleet", "snapshot_fleet", "fleet_facts", "load_fleet",
]

NOT_COLLECTED = "not in the posted snapshot"


class FeatureUnavailable(RuntimeError):
    """A library feature this API delegates to is not installed in this build."""

    def __init__(self, feature: str, module: str):
        super().__init__(f"{feature} is not available in this v4doctor build ({module} is missing)")
        self.feature = feature
        self.module = module


def _bad_input() -> tuple[type[Exception], ...]:
    from v4doctor.knowledge.kb import UnknownModelError

    return (UsageError, FactsError, UnknownModelError)


BAD_INPUT = _bad_input()  # what a face answers as bad input (exit 2, HTTP 4xx), never as an internal error

# Kept for embedders: the same structural redaction every output of v4doctor goes through.
redact_result = redact


def _feature(module: str, attr: str, feature: str):
    """Import `module.attr` lazily; a missing module or name is FeatureUnavailable."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise FeatureUnavailable(feature, f"{module}.{attr}") from None


# --------------------------------------------------------------------------- diagnose
def diagnose(text: str):
    """Diagnose a pasted log (vLLM, SGLang, llama.cpp, Ollama, Docker ...): a `Diagnosis`."""
    if not isinstance(text, str):
        raise UsageError("diagnose() takes the log as a str")
    return _feature("v4doctor.logs", "diagnose_text", "log diagnosis")(text)


BINARY_SAMPLE = 64 * 1024


def diagnose_file(path: str | None = None, stream=None):
    """Diagnose a log file (`path`), or a binary/text stream such as standard input: a `Diagnosis`.

    An empty log, a directory and a file that is not text (random bytes, an archive, a GGUF) are
    usage errors: "No known problem" on 50 MB of noise would be a lie."""
    from v4doctor.logs import diagnose_file as scan_file, diagnose_stream

    if path is not None:
        try:
            fh = open(path, "rb")
        except IsADirectoryError:
            raise UsageError(f"{path} is a directory, not a log file") from None
        except OSError as exc:
            raise UsageError(f"cannot read log {path}: {exc.strerror or exc}") from None
        with fh:
            _refuse_binary(fh, path)
            diagnosis = scan_file(fh)
    elif stream is not None:
        import io

        buffer = getattr(stream, "buffer", None)
        if buffer is None and isinstance(stream, io.TextIOBase):  # already text (a StringIO): nothing to sniff
            diagnosis = diagnose_stream(stream)
        else:
            raw = buffer if buffer is not None else stream
            head = raw.read(BINARY_SAMPLE)
            _refuse_binary_bytes(head, "standard input")
            diagnosis = scan_file(_Prepend(head, raw))
    else:
        raise UsageError("diagnose_file() needs a path or a stream")
    if diagnosis.lines == 0:
        raise UsageError("the log is empty: nothing to diagnose")
    return diagnosis


def _refuse_binary(fh, name: str) -> None:
    head = fh.read(BINARY_SAMPLE)
    fh.seek(0)
    _refuse_binary_bytes(head, name)


def _refuse_binary_bytes(head: bytes, name: str) -> None:
    """A log is text: NULs or mostly undecodable bytes in its first 64 KiB mean it is not one."""
    if not head:
        return
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") + head.count(b"\x00")
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\x1b\x08\x0c")
    if head.count(b"\x00") > 16 or (bad + controls) > 0.10 * len(text):
        raise UsageError(f"{name} is not a text log (binary data); pass the engine's log output")


class _Prepend:
    """A binary reader that first returns `head`, then the rest of `raw` (standard input cannot seek)."""

    def __init__(self, head: bytes, raw):
        self._head, self._raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = (self._head, b"") if n < 0 or n >= len(self._head) else (self._head[:n], self._head[n:])
            return out if n < 0 or len(out) == n else out + (self._raw.read(n - len(out)) or b"")
        return self._raw.read(n)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


# --------------------------------------------------------------------------- judging
def run(
    *,
    facts_path: str | None = None,
    model: str | None = None,
    engine: str | None = None,
    engine_version: str | None = None,
    cmd: str | None = None,
    compose_path: str | None = None,
    paths: Iterable[str] = (),
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
):
    """Judge this host (or the snapshot at `facts_path`) against the planned deploy: a `Report`."""
    select, ignore = tuple(select), tuple(ignore)
    validate_selection(select, ignore)
    check_engine_version(engine_version)
    if facts_path:
        facts = load_facts(facts_path)
        if any((model, engine, cmd, compose_path, engine_version)):
            from v4doctor.collect.target import build_target

            plan = cmd is not None or compose_path is not None  # a launch plan names its own model and engine
            facts.target = build_target(model or (None if plan else facts.target.model),
                                        engine or (None if plan else facts.target.engine), cmd, compose_path, engine_version)
        facts.source = "snapshot"
    else:
        facts = host_facts(model=model, engine=engine, engine_version=engine_version, cmd=cmd,
                           compose_path=compose_path, paths=paths, progress=progress)
    require_known_model(facts.target)
    from v4doctor.judge.doctor import judge

    return judge(facts, select, ignore)


def host_facts(*, model=None, engine=None, engine_version=None, cmd=None, compose_path=None, paths=(), progress=None) -> Facts:
    """Read this host once (every collector, side by side) for the planned deploy."""
    from v4doctor.collect import gather
    from v4doctor.collect.target import build_target

    check_engine_version(engine_version)
    target = build_target(model, engine, cmd, compose_path, engine_version)
    return gather(target, list(paths), progress=progress)


def snapshot(**kwargs) -> dict[str, Any]:
    """Every fact about this host as JSON-ready data (same arguments as `host_facts`); redact before writing."""
    return facts_to_json(host_facts(**kwargs))


# --------------------------------------------------------------------------- fleets (a Ray cluster)
FLEET_TIMEOUT_S = 60.0


def fleet_facts(address: str, *, model=None, engine=None, engine_version=None, cmd=None, compose_path=None, paths=(),
                timeout_s: float = FLEET_TIMEOUT_S):
    """Read every alive node of the Ray cluster at `address` (one pinned task each): a FleetFacts. Needs `v4doctor[ray]`."""
    from v4doctor.collect.target import build_target
    from v4doctor.fleet import gather_fleet

    check_engine_version(engine_version)
    if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 3600:
        raise UsageError(f"--ray-timeout {timeout_s!r}: give a number of seconds above 0, at most 3600")
    target = build_target(model, engine, cmd, compose_path, engine_version)
    require_known_model(target)
    return gather_fleet(address, target, list(paths), timeout_s=float(timeout_s)), target


def run_fleet(address: str | None = None, *, facts_path: str | None = None, select: Iterable[str] = (), ignore: Iterable[str] = (),
              **kwargs):
    """Judge a Ray cluster: every node with the usual checks, then the fleet checks across nodes: a `FleetReport`.

    `address` gathers the live cluster (kwargs as `fleet_facts`); `facts_path` judges a fleet snapshot
    written by `snapshot_fleet` instead (its target, unless model/engine/cmd are given)."""
    from v4doctor.fleet import judge_fleet

    select, ignore = tuple(select), tuple(ignore)
    validate_selection(select, ignore)
    if facts_path:
        fleet = load_fleet(facts_path)
        target = _fleet_target(fleet, **kwargs)
    else:
        fleet, target = fleet_facts(address or "auto", **kwargs)
    return judge_fleet(fleet, target, select, ignore)


def snapshot_fleet(address: str, **kwargs) -> dict[str, Any]:
    """Every node's facts of the Ray cluster at `address` as JSON-ready data (a fleet snapshot); redact before writing."""
    from v4doctor.facts.fleet import fleet_to_json

    fleet, _ = fleet_facts(address, **kwargs)
    return fleet_to_json(fleet)


def load_fleet(path: str):
    """A fleet snapshot (`snapshot --ray`), or None when the JSON at `path` is a one-host snapshot."""
    import json

    from v4doctor.facts.fleet import fleet_from_json

    try:
        data = json.loads(open(path, encoding="utf-8").read() if path != "-" else __import__("sys").stdin.read())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read fleet snapshot {path}: {exc}") from None
    if not is_fleet_snapshot(data):
        raise UsageError(f"{path} is not a fleet snapshot (no 'cluster' and 'nodes'): write one with `v4doctor snapshot --ray ADDRESS`")
    try:
        return fleet_from_json(data)
    except FactsError as exc:
        raise UsageError(f"fleet snapshot {path}: {exc}") from None


def is_fleet_snapshot(data: Any) -> bool:
    return isinstance(data, dict) and "cluster" in data and "nodes" in data and "target" not in data


def _fleet_target(fleet, *, model=None, engine=None, engine_version=None, cmd=None, compose_path=None, **_ignored) -> TargetFacts:
    """The plan for a recorded fleet: the given one, else the target the nodes were gathered for."""
    from v4doctor.collect.target import build_target

    recorded = next((n.facts.target for n in fleet.answered), None)
    if recorded is not None and not any((model, engine, cmd, compose_path, engine_version)):
        return recorded
    target = build_target(model, engine, cmd, compose_path, engine_version)
    require_known_model(target)
    return target


def check(
    snapshot: Facts | dict[str, Any] | None = None,
    *,
    cmd: str | list[str] | None = None,
    compose: str | None = None,
    model: str | None = None,
    engine: str | None = None,
    engine_version: str | None = None,
    select: Iterable[str] = (),
    ignore: Iterable[str] = (),
):
    """Judge a facts snapshot and/or a launch plan (command or compose text): a `Report`. Pure."""
    from v4doctor.judge.doctor import judge

    select, ignore = tuple(select), tuple(ignore)
    validate_selection(select, ignore)
    check_engine_version(engine_version)
    facts = facts_for(snapshot, cmd=cmd, compose=compose, model=model, engine=engine, engine_version=engine_version)
    require_known_model(facts.target)
    return judge(facts, select, ignore)


def require_known_model(target: TargetFacts) -> None:
    """An unknown model id is a usage error (exit 2), not a finding."""
    from v4doctor.knowledge.kb import UnknownModelError, load

    if target.engine == "ollama" and not known(target.local_path):
        from v4doctor.weights.files import ollama_manifest

        if ollama_manifest(target.model) is not None:
            return  # a local Ollama model name: its GGUF is judged by the gguf checks
    if not known(target.local_path):
        try:
            load().model(target.model)
        except UnknownModelError as exc:
            raise UsageError(str(exc)) from None


_VERSION = re.compile(r"v?\d+(?:\.\d+){0,3}(?:[-+._a-z0-9]*)?|b\d+", re.IGNORECASE)


def check_engine_version(version: str | None) -> None:
    """`--engine-version banana` is a usage error: a version is digits and dots (0.33.0, 0.33.0+cu129) or a llama.cpp build (b9840)."""
    if version is not None and (not isinstance(version, str) or len(version) > 64 or not _VERSION.fullmatch(version.strip())):
        raise UsageError(f"--engine-version {str(version)[:64]!r} is not a version: give e.g. 0.33.0, 0.33.0+cu129, v0.5.23 or b9840")


def validate_selection(select: Iterable[str], ignore: Iterable[str]) -> None:
    """A --select/--ignore entry that names no check is a usage error that lists the valid ids and categories."""
    from v4doctor.judge.doctor import registry

    reg = registry()
    for flag, values in (("--select", select), ("--ignore", ignore)):
        bad = [v for v in values if not reg.matches_any(v)]
        if bad:
            cats = ", ".join(sorted(reg.selectable_categories()))
            raise UsageError(f"{flag} {', '.join(bad)}: no check has that id, id prefix or category "
                             f"(categories: {cats}; ids: `v4doctor checks` lists them, e.g. V4D210)")


def load_facts(path: str) -> Facts:
    """A facts snapshot written by `v4doctor snapshot` (`-` reads standard input)."""
    from v4doctor.judge.doctor import load_facts as read

    return read(path)


# --------------------------------------------------------------------------- fix
def fix(text: str, kind: str | None = None, snapshot: Facts | dict[str, Any] | None = None, config: str | None = None):
    """Propose a corrected launch command or compose file: a `FixResult` (findings, after, diff). Pure."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("fix() needs a launch command or compose text")
    kind = kind or guess_kind(text)
    if kind not in ("cmd", "compose"):
        raise UsageError(f"kind must be 'cmd' or 'compose', not {kind!r}")
    propose = _feature("v4doctor.repair.propose", "propose", "launch-plan fixing")
    facts = _facts(snapshot) if snapshot is not None else None
    return propose(text, kind, facts, config)


def guess_kind(text: str) -> str:
    """'compose' when the text is a compose file (a top-level `services:` key), else 'cmd'."""
    return "compose" if any(line.startswith("services:") for line in text.splitlines()) else "cmd"


@dataclass
class Plan:
    """A launch plan read from the command line or a file: its text, its kind and the vLLM `--config` it names."""

    text: str
    kind: str
    config: str | None = None


def read_plan(cmd: str | None = None, compose_path: str | None = None) -> Plan:
    """Read a launch plan: the command text, or the compose file at `compose_path`, plus a vLLM `--config FILE` it names."""
    from v4doctor.collect.target import read_compose, read_vllm_config

    if compose_path is not None:
        text, kind = read_compose(compose_path), "compose"
    elif cmd is not None:
        text, kind = cmd, "cmd"
    else:
        raise UsageError("give a launch command or a compose file")
    return Plan(text, kind, read_vllm_config(text, kind))


def write_fix(path: str, result, original: str) -> str:
    """Write a fix's corrected compose file in place of `path` (refused if it changed since it was read); the backup's path."""
    from v4doctor.output.writer import digest, replace_file

    return str(replace_file(path, result.after, digest(original)))


# --------------------------------------------------------------------------- fit
def fit(
    *,
    model: str | None = None,
    gpus: str | None = None,
    gpu_mem_gib: float | None = None,
    plan: Plan | None = None,
    facts: Facts | None = None,
    engine: str | None = None,
    overrides: dict[str, Any] | None = None,
):
    """The memory fit of a plan: (`FitResult`, the GPU's name). Pure: the host's GPUs come from `gpus`
    ("COUNTxNAME") or from `facts` (a snapshot). A `model` that is a local checkpoint folder the knowledge base
    does not list is fitted from its config.json and the size of its weight files."""
    from v4doctor.launch.fitplan import compute

    record = _local_checkpoint_record(model) if model else None
    return compute(model=model, gpus=gpus, gpu_mem_gib=gpu_mem_gib, plan=plan, facts=facts, engine=engine, overrides=overrides or {},
                   record=record)


def _local_checkpoint_record(model: str) -> dict[str, Any] | None:
    """The record of a local V4 checkpoint folder (config.json + file sizes), or None for anything else."""
    from pathlib import Path

    from v4doctor.knowledge.kb import load

    if load().find_model(model) is not None or not Path(model).expanduser().is_dir():
        return None
    from v4doctor.collect.checkpoint import read_checkpoint
    from v4doctor.knowledge.from_config import record_from_config

    config, size = read_checkpoint(model)
    record = record_from_config(config, model, disk_bytes=size)
    if record is None:
        raise UsageError(f"{model}: config.json is not a DeepSeek V4 checkpoint")
    return record


def fit_rows(result) -> list[tuple[str, str, str]]:
    """A fit's arithmetic as (quantity, value, how it was computed) rows, for a table."""
    from v4doctor.launch.fit import rows

    return rows(result)


# --------------------------------------------------------------------------- GGUF
@dataclass
class GgufResult:
    report: Any
    records: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "gguf": self.records}


def gguf(paths: list[str], *, engine: str = "llamacpp", engine_version: str | None = None, hub: bool = False,
         hash_files: bool = False, repo: str | None = None, revision: str = "main", timeout: float = 10.0,
         read_host: bool = True, progress=None) -> GgufResult:
    """Read GGUF headers (never the tensor data) of files, split sets, folders or Ollama models, and judge them."""
    from v4doctor.collect.gguf import read_records
    from v4doctor.judge.doctor import judge
    from v4doctor.weights.files import WeightsInputError

    check_engine_version(engine_version)
    try:
        records = read_records(paths, hash_files=hash_files, hub=hub or hash_files, repo=repo, revision=revision,
                               timeout=timeout, progress=progress)
    except WeightsInputError as exc:
        raise UsageError(str(exc)) from None
    facts = _gguf_facts(records, engine, engine_version, read_host)
    return GgufResult(judge(facts, select=["gguf"]), records)


def _gguf_facts(records: list[dict], engine: str, engine_version: str | None, read_host: bool) -> Facts:
    from v4doctor.collect import host_for_gguf
    from v4doctor.collect.target import build_target

    target = build_target(model=records[0]["path"], engine=engine, engine_version=engine_version)
    facts = Facts(target=target, gguf=records, source="gguf")
    if read_host:
        facts.gpu, facts.system, facts.binaries = host_for_gguf()
    else:
        facts.gpu = facts.system = Unknown("--no-host: this host was not read")
    return facts


# --------------------------------------------------------------------------- probe
def probe(url: str, *, model: str | None = None, api_key: str | None = None, api_key_env: str | None = None,
          timeout: float = 60.0, max_model_len: int | None = None, slow_first_token_s: float = 10.0):
    """Probe a served OpenAI-compatible endpoint: health, served models, one streamed reply (a `ProbeResult`)."""
    from urllib.parse import urlsplit

    from v4doctor.probe.endpoint import probe as run_probe

    if timeout <= 0 or slow_first_token_s <= 0 or (max_model_len is not None and max_model_len <= 0):
        raise UsageError("--timeout, --slow-first-token and --max-model-len must be positive")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"not an http(s) URL: {url!r} (try http://localhost:8000)")
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise UsageError(f"the environment variable {api_key_env} (named by --api-key-env) is not set")
    return run_probe(url, model=model, api_key=api_key, timeout=timeout, max_model_len=max_model_len,
                     slow_first_token_s=slow_first_token_s)


# --------------------------------------------------------------------------- catalogue
def checks() -> dict[str, Any]:
    """Every registered check, and the plugins that failed to load."""
    from v4doctor.judge.doctor import registry

    reg = registry()
    rows = [{"id": c.id, "name": c.name, "category": c.category, "title": c.title, "module": c.module,
             "troubleshooting": c.troubleshooting} for c in reg.checks]
    return {"schema_version": 1, "checks": rows, "load_errors": [f.to_dict() for f in reg.load_errors]}


def troubleshooting_rows() -> list[dict[str, Any]]:
    """The troubleshooting table (docs/troubleshooting.md), one dict per row."""
    from v4doctor.knowledge.kb import load

    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in load().records("row")]


def code_roots() -> list[str]:
    """The folders v4doctor's own code and built-in checks load from (the server's sandbox lets them be read)."""
    import v4doctor

    roots = [os.path.dirname(v4doctor.__file__)]
    try:
        import v4doctor_checks

        roots.append(os.path.dirname(v4doctor_checks.__file__))
    except ImportError:  # pragma: no cover - the checks package ships with v4doctor
        pass
    return roots


def warm_up() -> None:
    """Load the knowledge base and the checks, and compile the log signatures, before the first request."""
    from v4doctor.judge.doctor import registry
    from v4doctor.knowledge.kb import load

    load()
    registry()
    try:
        diagnose("warm-up\n")
    except FeatureUnavailable:
        pass


def models() -> dict[str, Any]:
    """Every checkpoint the knowledge base knows: repo id, aliases, format, size on disk."""
    from v4doctor.knowledge.kb import load

    rows = []
    for m in load().records("model"):
        rows.append({"repo": m.get("repo"), "name": m.get("name"), "aliases": m.get("aliases", []),
                     "format": m.get("format"), "bytes_on_disk": m.get("disk_bytes")})
    return {"schema_version": 1, "models": rows}


def explain(ref: str) -> dict[str, Any]:
    """What a check id, log signature, probe finding or troubleshooting row is: {"kind", "id", "lines"}."""
    from v4doctor.output.explain import explain as lookup

    found = lookup(ref)
    if found is None:
        raise UsageError(f"no check, probe finding, log signature or troubleshooting row called {ref!r} (`v4doctor checks` lists the checks)")
    return found


# --------------------------------------------------------------------------- facts
def facts_for(
    snapshot: Facts | dict[str, Any] | None = None,
    *,
    cmd: str | list[str] | None = None,
    compose: str | None = None,
    model: str | None = None,
    engine: str | None = None,
    engine_version: str | None = None,
) -> Facts:
    """The facts to judge: the snapshot (or none), with the plan's target laid over it. Pure."""
    if snapshot is None and cmd is None and compose is None and model is None:
        raise UsageError("give a facts snapshot, a launch command, a compose text or a model")
    facts = _facts(snapshot) if snapshot is not None else _bare_facts()
    target = facts.target
    plan_model, plan_engine = _named_by_plan(cmd, compose)
    model, engine = model or _known_plan_model(plan_model, snapshot is not None), engine or plan_engine
    if model is not None or engine is not None:
        target = _target(model or target.model, engine or target.engine)
        target.config = facts.target.config if model is None else target.config
    if engine_version is not None:
        target.engine_version = engine_version
    if cmd is not None:
        from v4doctor.launch.spec import split_command

        target.cmd = list(cmd) if isinstance(cmd, list) else split_command(cmd)
    if compose is not None:
        target.compose_path, target.compose_text = Unknown("compose text given inline"), compose
    facts.target = target
    return facts


def _facts(snapshot: Facts | dict[str, Any]) -> Facts:
    """Typed facts from a snapshot; a Facts object is copied, so the caller's is never changed."""
    if isinstance(snapshot, Facts):
        return copy.deepcopy(snapshot)
    try:
        facts = facts_from_json(snapshot)
    except FactsError as exc:
        raise UsageError(f"snapshot: {exc}") from None
    facts.source = "snapshot"
    return facts


def _bare_facts() -> Facts:
    """Facts with nothing collected: the checks that need the host say `skipped`, and why."""
    from v4doctor.facts.target import DEFAULT_ENGINE, DEFAULT_MODEL

    facts = Facts(target=TargetFacts(model=DEFAULT_MODEL, engine=DEFAULT_ENGINE), source="spec")
    for name in ("gpu", "system", "python", "hub", "docker", "gguf"):
        setattr(facts, name, Unknown(NOT_COLLECTED))
    return facts


def _target(model: str, engine: str) -> TargetFacts:
    """A target from names alone (no path is looked at, unlike the collectors' `build_target`)."""
    from v4doctor.facts.target import ENGINES

    name = engine.lower().replace(".", "").replace("-", "")
    if name not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    return TargetFacts(model=model, engine=name)


def _named_by_plan(cmd: str | list[str] | None, compose: str | None) -> tuple[str | None, str | None]:
    """The model and engine a posted plan names: the plan is what will run, so it outranks the snapshot."""
    if cmd is None and compose is None:
        return None, None
    from v4doctor import launch

    if compose is not None:
        spec = launch.parse_compose(compose)
    else:
        spec = launch.parse_command(list(cmd)) if isinstance(cmd, list) else launch.parse_text(cmd)
    return spec.model, spec.engine


def _known_plan_model(plan_model: str | None, have_snapshot: bool) -> str | None:
    """The plan's model when the KB knows it; a path or unknown id needs `model` (or a snapshot's target)."""
    from v4doctor.knowledge.kb import load

    if plan_model is None or load().find_model(plan_model):
        return plan_model
    if have_snapshot:
        return None
    raise UsageError(f"the plan serves {plan_model!r}, which is not a checkpoint v4doctor knows: say which one it is with model (flash, pro or a repo id)")


# --------------------------------------------------------------------------- plan
def plan(
    *,
    gpus: str | None = None,
    ram_gib: float | None = None,
    disk_gib: float | None = None,
    driver: str | None = None,
    snapshot: Facts | dict[str, Any] | None = None,
    facts_path: str | None = None,
    read_host: bool = True,
    model: str = "any",
    context: int | None = None,
    concurrency: int = 1,
    engine: str = "any",
    engine_version: str | None = None,
    image: str | None = None,
    prefer: str = "context",
    top: int = 3,
    ignore: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
    nodes: int | None = None,
):
    """What to run on a host: checkpoint, engine, image, layout and flags, ranked (a `PlanResult`).

    The host is a hypothetical one (`gpus="8xH200"`, pure), a snapshot (pure), a snapshot file, or this
    machine (`read_host`; the server passes False, so it never reads its own host)."""
    from v4doctor.knowledge.kb import load
    from v4doctor.planner import Goal, hypothetical
    from v4doctor.planner import plan as make_plan

    ignore = tuple(ignore)
    validate_selection((), ignore)
    check_engine_version(engine_version)
    goal = Goal(model=model or "any", context=context, concurrency=concurrency, engine=(engine or "any").lower(),
                engine_version=engine_version.strip().lstrip("vV") if engine_version else None, image=image, prefer=prefer,
                top=top, ignore=ignore)
    if sum(x is not None for x in (gpus, snapshot, facts_path)) > 1:
        raise UsageError("give one host: --gpus, a snapshot or --facts")
    if gpus is None and any(v is not None for v in (ram_gib, disk_gib, driver)):
        raise UsageError("--ram-gib, --disk-gib and --driver describe a hypothetical host: use them with --gpus")
    if gpus is not None:
        facts = hypothetical(gpus, load(), ram_gib=ram_gib, disk_gib=disk_gib, driver=driver)
    elif snapshot is not None:
        facts = _facts(snapshot)
    elif facts_path is not None:
        facts = _plan_facts_file(facts_path, nodes)
    elif read_host:
        facts = host_facts(progress=progress)
    else:
        raise UsageError("give the host: gpus (e.g. 8xH200) or a facts snapshot")
    if isinstance(facts, tuple):  # a fleet snapshot: its GPU nodes
        facts, nodes = facts
    return make_plan(facts, goal, nodes=1 if nodes is None else nodes)


def _plan_facts_file(path: str, nodes: int | None):
    """A one-host snapshot, or a fleet snapshot (`snapshot --ray`) as (the smallest GPU node's facts, GPU nodes)."""
    import json

    from v4doctor.planner import fleet_host

    try:
        data = json.loads(open(path, encoding="utf-8").read()) if path != "-" else None
    except (OSError, ValueError):
        data = None  # load_facts says what is wrong with the file
    if not is_fleet_snapshot(data):
        return load_facts(path)
    if nodes is not None:
        raise UsageError("--nodes describes copies of one host: a fleet snapshot already says how many nodes there are")
    return fleet_host(load_fleet(path))
