"""Findings: what a check says about the facts, with a stable id, a fix and its sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Severity(str, Enum):
    ERROR = "error"  # blocks the deploy
    WARNING = "warning"
    INFO = "info"
    OK = "ok"
    SKIPPED = "skipped"  # could not check, and why

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2, Severity.SKIPPED: 3, Severity.OK: 4}


@dataclass
class Fix:
    """The remedy: one sentence, the exact commands, and the fixers that can apply it."""

    text: str
    commands: list[str] = field(default_factory=list)
    fixers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "commands": list(self.commands), "fixers": list(self.fixers)}


@dataclass
class Finding:
    id: str
    severity: Severity
    category: str
    title: str
    detail: str = ""
    fix: Fix | None = None
    evidence: list[str] = field(default_factory=list)
    troubleshooting: str | None = None
    sources: list[str] = field(default_factory=list)
    check: str = ""  # the check's name (slug); id is the stable code
    nodes: list[str] = field(default_factory=list)  # fleet runs: the node(s) the finding is about

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "category": self.category,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix.to_dict() if self.fix else None,
            "evidence": list(self.evidence),
            "troubleshooting": self.troubleshooting,
            "sources": public_sources(self.sources),
            "check": self.check,
        } | ({"nodes": list(self.nodes)} if self.nodes else {})


def _make(severity: Severity):
    def make(
        title: str,
        detail: str = "",
        *,
        fix: Fix | str | None = None,
        commands: list[str] | None = None,
        fixers: list[str] | None = None,
        evidence: list[str] | None = None,
        troubleshooting: str | None = None,
        sources: list[str] | None = None,
    ) -> Finding:
        if isinstance(fix, str):
            fix = Fix(fix, list(commands or []), list(fixers or []))
        return Finding(
            id="",
            severity=severity,
            category="",
            title=title,
            detail=detail,
            fix=fix,
            evidence=list(evidence or []),
            troubleshooting=troubleshooting,
            sources=list(sources or []),
        )

    make.__name__ = severity.value
    make.__doc__ = f"A {severity.value} finding; the runner stamps the check's id and category on it."
    return make


error = _make(Severity.ERROR)
warning = _make(Severity.WARNING)
info = _make(Severity.INFO)
ok = _make(Severity.OK)
skipped = _make(Severity.SKIPPED)


def worst(findings: list[Finding]) -> Severity | None:
    ranked = [f.severity for f in findings if f.severity in (Severity.ERROR, Severity.WARNING, Severity.INFO)]
    return min(ranked, key=lambda s: s.rank) if ranked else None


def public_sources(sources) -> list[str]:
    """Only what a user can open: http(s) URLs. A repository path (`shared/research/…`, `tools/gen_flags.py`) is
    the project's own working note, not a source to print."""
    return [s for s in sources or [] if isinstance(s, str) and s.startswith(("https://", "http://"))]
