"""Rendering at the edge: terminal (rich), JSON and Markdown. Redaction happens here."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TextIO

from v4doctor.judge.findings import Finding, Severity, public_sources
from v4doctor.output.redact import redact, redact_text

AREAS = {
    "driver": "NVIDIA driver & CUDA",
    "gpu": "GPUs",
    "engine": "Inference engine",
    "memory": "Memory fit",
    "disk": "Disk",
    "system": "System",
    "flags": "Launch flags",
    "launch": "Launch plan",
    "gguf": "GGUF files",
    "hub": "Hugging Face",
    "docker": "Docker",
    "endpoint": "Served endpoint",
    "plugin": "Plugins",
}
SYMBOL = {Severity.OK: "✓", Severity.WARNING: "!", Severity.ERROR: "✗", Severity.SKIPPED: "?", Severity.INFO: "i"}
STYLE = {Severity.OK: "green", Severity.WARNING: "yellow", Severity.ERROR: "bold red", Severity.SKIPPED: "dim", Severity.INFO: "cyan"}


def to_json(data: Any) -> str:
    """Strict JSON (a non-finite float is written as null, never NaN/Infinity), redacted."""
    return json.dumps(finite(redact(data)), indent=2, ensure_ascii=False, allow_nan=False)


def finite(data: Any) -> Any:
    """JSON-ready data with every NaN/Infinity float replaced by None (strict JSON has neither)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def _groups(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    order = list(AREAS)
    cats = sorted({f.category for f in findings}, key=lambda c: (order.index(c) if c in order else len(order), c))
    return [(c, sorted((f for f in findings if f.category == c), key=lambda f: (f.severity.rank, f.id))) for c in cats]


def _group_severity(items: list[Finding]) -> Severity:
    return min((f.severity for f in items), key=lambda s: s.rank)


def terminal_lines(report_dict: dict[str, Any], findings: list[Finding], verbose: bool = False, quiet: bool = False) -> list[tuple[str, str]]:
    """(text, style) lines of the terminal report; pure, so it is tested as exact text. `quiet`: only the
    errors, then the summary line."""
    if quiet:
        errors = [f for f in findings if f.severity is Severity.ERROR]
        lines = [line for f in sorted(errors, key=lambda f: f.id) for line in _finding_lines(f, False)]
        return [(redact_text(text), style) for text, style in [*lines, _summary_line(report_dict["summary"])]]
    t = report_dict["target"]
    head = f"v4doctor: {t.get('model_name') or t.get('model')} on {t.get('engine')}"
    if t.get("engine_version"):
        head += f" {t['engine_version']}"
    lines: list[tuple[str, str]] = [(head, "bold"), ("", "")]
    for category, items in _groups(findings):
        sev = _group_severity(items)
        lines.append((f"[{SYMBOL[sev]}] {AREAS.get(category, category)}", STYLE[sev]))
        shown = [f for f in items if verbose or f.severity is not Severity.OK]
        lines.extend(_items_lines(shown, verbose))
    lines.append(("", ""))
    lines.append(_summary_line(report_dict["summary"]))
    return [(redact_text(text), style) for text, style in lines]


def _items_lines(items: list[Finding], verbose: bool) -> list[tuple[str, str]]:
    """One block per finding; without -v, checks skipped for the same reason share one line."""
    by_reason: dict[str, list[Finding]] = {}
    for f in items:
        if f.severity is Severity.SKIPPED and not verbose:
            by_reason.setdefault(f.detail, []).append(f)
    out: list[tuple[str, str]] = []
    for f in items:
        group = by_reason.get(f.detail, []) if f.severity is Severity.SKIPPED and not verbose else []
        if len(group) > 1:
            if f is group[0]:
                ids = ", ".join(g.id for g in group)
                out.append((f"    {SYMBOL[Severity.SKIPPED]} {len(group)} checks could not run  [{ids}]", STYLE[Severity.SKIPPED]))
                out.append((f"      {f.detail}", ""))
            continue
        out.extend(_finding_lines(f, verbose))
    return out


def _finding_lines(f: Finding, verbose: bool) -> list[tuple[str, str]]:
    out = [(f"    {SYMBOL[f.severity]} {f.title}  [{f.id}]", STYLE[f.severity])]
    if f.detail and (f.severity is not Severity.OK):
        out += [(f"      {line}", "") for line in f.detail.splitlines()]
    if f.fix and f.severity in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        out.append((f"      fix: {f.fix.text}", "green"))
        out += [(f"        $ {cmd}", "green") for cmd in f.fix.commands]
    if verbose:
        out += [(f"      evidence: {e}", "dim") for e in f.evidence]
        if f.troubleshooting:
            out.append((f"      troubleshooting: {f.troubleshooting}", "dim"))
        out += [(f"      source: {s}", "dim") for s in public_sources(f.sources)]
    return out


def _summary_line(s: dict[str, Any]) -> tuple[str, str]:
    parts = [f"{s['error']} error(s)", f"{s['warning']} warning(s)"]
    if s.get("skipped"):
        parts.append(f"{s['skipped']} could not be checked")
    verdict = "Ready to deploy." if s["ready"] else "Not ready to deploy."
    return (", ".join(parts) + f". {verdict}", "bold green" if s["ready"] else "bold red")


def print_terminal(lines: list[tuple[str, str]], file: TextIO | None = None, width: int | None = None, color: bool | None = None) -> None:
    from rich.console import Console

    console = Console(file=file, width=width, no_color=color is False, highlight=False, soft_wrap=True)
    for text, style in lines:  # without colour, no bold or dim either: plain text (NO_COLOR, --no-color)
        console.print(text, style=(style or None) if color is not False else None, markup=False)


# What can start markup inside a line: emphasis, code, links/images (need brackets), raw HTML, tables.
# Newlines become spaces, so line-start markup (#, +, -, 1.) cannot form.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def md_escape(text: str) -> str:
    """Escape user-controlled text for Markdown (no raw HTML, no links, no tables broken)."""
    return _MD_SPECIAL.sub(r"\\\1", redact_text(text)).replace("\n", " ")


def markdown(report_dict: dict[str, Any], findings: list[Finding]) -> str:
    t = report_dict["target"]
    out = [f"## v4doctor: {md_escape(str(t.get('model_name') or t.get('model')))} on {md_escape(str(t.get('engine')))}", ""]
    for category, items in _groups(findings):
        problems = [f for f in items if f.severity is not Severity.OK]
        out.append(f"### {SYMBOL[_group_severity(items)]} {AREAS.get(category, category)}")
        out.append("")
        if not problems:
            out.append("All checks passed.")
        for f in problems:
            out.append(f"- **{f.severity.value}** `{f.id}` {md_escape(f.title)}")
            if f.detail:
                out.append(f"  - {md_escape(f.detail)}")
            if f.fix:
                out.append(f"  - fix: {md_escape(f.fix.text)}")
                out += [f"    ```\n    {redact_text(c).replace('`', '')}\n    ```" for c in f.fix.commands]
        out.append("")
    out.append(f"**{_summary_line(report_dict['summary'])[0]}**")
    return "\n".join(out) + "\n"
