"""Propose a corrected launch plan: judge (V4D3xx), apply fixers, render before/after and the diff.

Pure: text in, FixResult out. "Nothing to fix" is an outcome (`changed` False), and the result
is a fixed point: running `propose` on `after` changes nothing (tests hold it to that).
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from v4doctor.errors import UsageError
from v4doctor.facts import Facts, TargetFacts
from v4doctor.judge.findings import Finding, Severity
from v4doctor.launch.compose import parse_compose, render_compose, with_config
from v4doctor.repair.fixers import FIXERS
from v4doctor.launch.snippet import parse_text
from v4doctor.launch.spec import LaunchSpec
from v4doctor.output.redact import mask_values, redact_text, secret_values

MAX_ROUNDS = 6
ACTIONABLE = (Severity.ERROR, Severity.WARNING, Severity.INFO)


@dataclass
class FixResult:
    kind: str
    findings: list[Finding]  # what the plan had before fixing
    remaining: list[Finding]  # what is left after the fixes (errors/warnings)
    applied: list[str]  # fixer ids, in order
    before: str
    after: str
    spec_before: LaunchSpec
    spec_after: LaunchSpec
    notes: list[str] = field(default_factory=list)
    hidden: tuple[str, ...] = ()  # secret values of the input, masked wherever a rewrite moved them (`shown`)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def diff(self) -> str:
        """The unified diff of the redacted texts: a line of a diff alone (`+  K2 \\`) has lost the context
        (`--api-key K1 \\`) that shows it is a secret, so the whole texts are redacted first."""
        name = "compose" if self.kind == "compose" else "command"
        return "".join(difflib.unified_diff(self.shown(self.before).splitlines(True), self.shown(self.after).splitlines(True),
                                            f"a/{name}", f"b/{name}"))

    def shown(self, text: str) -> str:
        """Text as it may leave: redacted, and the input's secret values masked wherever they moved."""
        return mask_values(redact_text(text), self.hidden)

    def to_dict(self) -> dict[str, Any]:
        return mask_values(self._dict(), self.hidden)

    def _dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "changed": self.changed, "applied": list(self.applied),
            "findings": [f.to_dict() for f in self.findings], "remaining": [f.to_dict() for f in self.remaining],
            "before": self.before, "after": self.after, "diff": self.diff,
            "launch_before": self.spec_before.to_dict(), "launch_after": self.spec_after.to_dict(), "notes": list(self.notes),
        }


def render_command(spec: LaunchSpec) -> str:
    """A command one option per line, `\\`-continued: the form the diff and `fix --cmd` print."""
    q = shlex.quote
    head = [*spec.env_prefix(), *spec.docker, *([spec.image] if spec.image else []), *spec.launcher]
    if spec.model_positional and spec.model:
        head.append(spec.model)
    lines = [" ".join(q(t) for t in head)] + ["  " + " ".join(q(t) for t in a.tokens()) for a in spec.ordered_args()]
    return " \\\n".join(line for line in lines if line.strip()) + "\n"


def _judge(spec: LaunchSpec, facts: Facts) -> list[Finding]:
    from v4doctor.judge.context import Context
    from v4doctor.judge.doctor import registry
    from v4doctor.judge.registry import run_checks

    ctx = Context(facts)
    ctx.__dict__["launch"] = spec  # the cached property, set to the plan under repair
    reg = registry()
    return [f for f in run_checks(ctx, reg.checks, ["V4D3"], ()) if f.severity in ACTIONABLE]


def _apply(spec: LaunchSpec, findings: list[Finding], applied: list[str]) -> LaunchSpec:
    for f in findings:
        for fixer_id in f.fix.fixers if f.fix else []:
            fn = FIXERS.get(fixer_id)
            new = fn(spec, f) if fn else spec
            if new != spec:
                applied.append(fixer_id)
                spec = new
                break
    return spec


def _facts_for(spec: LaunchSpec, facts: Facts | None) -> Facts:
    target = TargetFacts(model=spec.model or "flash", engine=spec.engine)
    if facts is None:
        return Facts(target=target, source="spec")
    return replace(facts, target=replace(facts.target, model=spec.model or facts.target.model, engine=spec.engine))


def repair(spec: LaunchSpec, facts: Facts | None) -> tuple[LaunchSpec, list[Finding], list[Finding], list[str]]:
    """Fix until no fixer changes anything: (fixed spec, findings before, findings after, fixer ids)."""
    first = _judge(spec, _facts_for(spec, facts))
    current, found, applied = spec, first, []
    for _ in range(MAX_ROUNDS):
        new = _apply(current, found, applied)
        if new == current:
            break
        current = new
        found = _judge(current, _facts_for(current, facts))
    return current, first, found, applied


def propose(text: str, kind: str, facts: Facts | None = None, config_text: str | None = None) -> FixResult:
    """Findings and a corrected plan for a launch command (`kind="cmd"`) or a compose file.

    `config_text`: the vLLM `--config FILE.yaml` the command names (judged, never rewritten)."""
    if kind not in ("cmd", "compose"):
        raise UsageError(f"unknown plan kind {kind!r} (cmd or compose)")
    spec = parse_compose(text) if kind == "compose" else parse_text(text)
    if config_text is not None:
        spec = with_config(spec, config_text)
    fixed, first, remaining, applied = repair(spec, facts)
    if kind == "compose":
        before, after = text, (render_compose(text, fixed) if fixed != spec else text)
    else:
        before, after = render_command(spec), render_command(fixed)
    notes = [] if facts is not None else ["no host facts: memory-fit and GPU checks were skipped (pass --facts)"]
    if "fix-pro-to-flash" in applied and fixed.model != spec.model:
        kept = fixed.flag("served-model-name") or spec.model
        notes.append(f"this plan now serves {fixed.model} under the name {kept}: clients that ask for {kept} get "
                     f"{fixed.model}'s answers (a smaller, different model), with no error telling them so")
    return FixResult(kind, first, [f for f in remaining if f.severity in (Severity.ERROR, Severity.WARNING)],
                     applied, before, after, spec, fixed, notes, secret_values(text))
