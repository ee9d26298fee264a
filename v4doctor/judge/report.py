"""The result of `v4doctor run`: target, findings and summary, as JSON-ready data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v4doctor.judge.findings import Finding, Severity

REPORT_SCHEMA_VERSION = 1


@dataclass
class Report:
    target: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)

    def ordered(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.severity.rank, f.category, f.id))

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity is severity)

    def summary(self) -> dict[str, Any]:
        counts = {s.value: self.count(s) for s in Severity}
        return {**counts, "ready": counts["error"] == 0}

    def exit_code(self, fail_on: str = "error") -> int:
        levels = {"error": (Severity.ERROR,), "warning": (Severity.ERROR, Severity.WARNING)}
        return 1 if any(f.severity in levels[fail_on] for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "target": self.target,
            "findings": [f.to_dict() for f in self.ordered()],
            "summary": self.summary(),
        }
