"""The `run` pipeline: facts -> context -> checks -> report. Pure below `load_facts`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from v4doctor.judge.context import Context
from v4doctor.errors import UsageError
from v4doctor.facts import Facts, FactsError, facts_from_json, known
from v4doctor.judge.findings import Finding
from v4doctor.judge.registry import Registry, discover, run_checks
from v4doctor.judge.report import Report

_REGISTRY: Registry | None = None


def registry() -> Registry:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = discover()
    return _REGISTRY


def load_facts(path: str) -> Facts:
    """Read a facts snapshot (from `v4doctor snapshot`); one clear error when it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else __import__("sys").stdin.read()
    except OSError as exc:
        raise UsageError(f"cannot read facts file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"facts file {path} is not UTF-8 JSON") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"facts file {path} is not valid JSON: {exc}") from None
    try:
        return facts_from_json(data)
    except FactsError as exc:
        raise UsageError(f"facts file {path}: {exc}") from None


def target_summary(ctx: Context) -> dict[str, Any]:
    model = ctx.get("model")
    version = ctx.get("engine_version")
    return {
        "model": ctx.target.model,
        "model_repo": model.get("repo") if known(model) else None,
        "model_name": model.get("name") if known(model) else None,
        "engine": ctx.engine,
        "engine_version": version if known(version) else None,
        "source": ctx.facts.source,
    }


def judge(facts: Facts, select: Iterable[str] = (), ignore: Iterable[str] = (), fleet: Any = None) -> Report:
    """Run every registered check on the facts and return the report (with `fleet`, the fleet checks judge it too)."""
    ctx = Context(facts, fleet=fleet)
    reg = registry()
    findings: list[Finding] = list(reg.load_errors)
    findings += run_checks(ctx, reg.checks, select, ignore)
    return Report(target=target_summary(ctx), findings=findings)
