"""The public API for writing checks (built-ins and third-party plugins use the same).

    from v4doctor.judge.authoring import check, error, warning, info, Fix, Unknown, known

    @check("V4D999", title="...", category="gpu")
    def my_check(gpus):
        '''One line on what it looks for and why.'''
        if ...:
            return error("what is wrong (with the value)", "why it matters", fix="what to do")
"""

from v4doctor.facts import NotApplicable, Unknown, known
from v4doctor.judge.findings import Finding, Fix, Severity, error, info, ok, skipped, warning
from v4doctor.judge.registry import check

__all__ = ["check", "error", "warning", "info", "ok", "skipped", "Finding", "Fix", "Severity", "Unknown", "NotApplicable", "known"]
