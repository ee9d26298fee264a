"""The result of `diagnose`: what the log shows (detected) and the ranked diagnoses, as JSON-ready data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v4doctor.logs.logfacts import LogFacts

SCHEMA_VERSION = 1


@dataclass
class Item:
    """One diagnosis: a root cause (or a consequence of one), with the lines that prove it and the fix."""

    id: str
    category: str
    severity: str
    confidence: float
    title: str
    cause: str
    fix: str
    troubleshooting: str | None
    evidence: list[tuple[int, str]]
    fix_command: str | None = None
    line: int = 0  # first line that shows it (0: not tied to a line)
    role: str = "cause"
    matched: list[str] = field(default_factory=list)  # every signature / check id folded into it
    fix_flags: dict[str, str] = field(default_factory=dict)
    engines: tuple[str, ...] = ()  # whose launch flags fix_flags are

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "severity": self.severity,
            "confidence": round(self.confidence, 2),
            "title": self.title,
            "cause": self.cause,
            "fix": self.fix,
            "troubleshooting": self.troubleshooting,
            "evidence": [{"line": n, "text": t} for n, t in self.evidence],
            "fix_command": self.fix_command,
        }


@dataclass
class Diagnosis:
    """Everything `diagnose` found in one log; `to_dict()` is exactly the `diagnose --json` object."""

    facts: LogFacts
    items: list[Item]
    lines: int = 0

    @property
    def healthy(self) -> bool:
        return not any(i.severity == "error" for i in self.items)

    @property
    def detected(self) -> dict[str, Any]:
        f = self.facts
        return {"engine": f.engine, "engine_version": f.engine_version, "model": f.model, "args": dict(f.args or f.command_args)}

    def matched(self) -> set[str]:
        """Every signature and check id that contributed to a diagnosis."""
        return {m for i in self.items for m in i.matched}

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "healthy": self.healthy,
            "detected": self.detected,
            "diagnoses": [i.to_dict() for i in self.items],
        }
