"""The Python API for bots that embed the library: `diagnose`, `check`, `fix`.

Each is a thin door onto the same functions the CLI uses (`v4doctor.logs.diagnose_text`,
`v4doctor.judge.doctor.judge`, `v4doctor.repair.propose.propose`) and returns their plain
dataclasses, each with `to_dict()`. Nothing here reads or writes a file, runs a
program or touches the network: `check` judges only the facts it is given, never
this host; a path inside a snapshot is data, never opened (the server enforces it).
Emit results through `redact_result(result.to_dict())`: results hold the input, secrets included.
"""

from __future__ import annotations

import importlib
from typing import Any, Iterable

from v4doctor.errors import UsageError
from v4doctor.facts import Facts, FactsError, TargetFacts, Unknown, facts_from_json
from v4doctor.output.redact import redact

__all__ = ["diagnose", "check", "fix", "facts_for", "redact_result", "FeatureUnavailable"]

NOT_COLLECTED = "not in the posted snapshot"


class FeatureUnavailable(RuntimeError):
    """A library feature this API delegates to is not installed in this build."""

    def __init__(self, feature: str, module: str):
        super().__init__(f"{feature} is not available in this v4doctor build ({module} is missing)")
        self.feature = feature
        self.module = module


# Kept for embedders: the same structural redaction every output of v4doctor goes through.
redact_result = redact


def _feature(module: str, attr: str, feature: str):
    """Import `module.attr` lazily; a missing module or name is FeatureUnavailable."""
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise FeatureUnavailable(feature, f"{module}.{attr}") from None


def diagnose(text: str):
    """Diagnose a pasted log (vLLM, SGLang, llama.cpp, Ollama, Docker ...): a `Diagnosis`."""
    if not isinstance(text, str):
        raise UsageError("diagnose() takes the log as a str")
    return _feature("v4doctor.logs", "diagnose_text", "log diagnosis")(text)


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
    """Judge a facts snapshot and/or a launch plan (command or compose text): a `Report`."""
    from v4doctor.cli.run import require_known_model
    from v4doctor.judge.doctor import judge
    from v4doctor.knowledge.kb import UnknownModelError, load

    facts = facts_for(snapshot, cmd=cmd, compose=compose, model=model, engine=engine, engine_version=engine_version)
    try:
        require_known_model(facts.target, load())  # as `run` does: an unknown model id is bad input
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    return judge(facts, tuple(select), tuple(ignore))


def fix(text: str, kind: str | None = None, snapshot: Facts | dict[str, Any] | None = None):
    """Propose a corrected launch command or compose file: a `FixResult` (findings, after, diff)."""
    if not isinstance(text, str) or not text.strip():
        raise UsageError("fix() needs a launch command or compose text")
    kind = kind or guess_kind(text)
    if kind not in ("cmd", "compose"):
        raise UsageError(f"kind must be 'cmd' or 'compose', not {kind!r}")
    propose = _feature("v4doctor.repair.propose", "propose", "launch-plan fixing")
    facts = _facts(snapshot) if snapshot is not None else None
    return propose(text, kind, facts)


def guess_kind(text: str) -> str:
    """'compose' when the text is a compose file (a top-level `services:` key), else 'cmd'."""
    return "compose" if any(line.startswith("services:") for line in text.splitlines()) else "cmd"


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
    """The facts to judge: the snapshot (or none), with the plan's target laid over it."""
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
        from v4doctor.collect.target import split_command

        target.cmd = list(cmd) if isinstance(cmd, list) else split_command(cmd)
    if compose is not None:
        target.compose_path, target.compose_text = Unknown("compose text given inline"), compose
    facts.target = target
    return facts


def _facts(snapshot: Facts | dict[str, Any]) -> Facts:
    """Typed facts from a snapshot; a Facts object is copied, so the caller's is never changed."""
    if isinstance(snapshot, Facts):
        import copy

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
    """A target from names alone (no path is looked at, unlike the CLI's `build_target`)."""
    from v4doctor.facts.target import ENGINES

    name = engine.lower().replace(".", "").replace("-", "")
    if name not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    return TargetFacts(model=model, engine=name)



def _named_by_plan(cmd: str | list[str] | None, compose: str | None) -> tuple[str | None, str | None]:
    """The model and engine a posted plan names: the plan is what will run, so it outranks the snapshot."""
    if cmd is None and compose is None:
        return None, None
    try:
        from v4doctor import launch
    except ImportError:  # launch-plan parsing not in this build: keep the snapshot's or the default target
        return None, None
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
