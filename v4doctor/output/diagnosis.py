"""Rendering a diagnosis for people: terminal lines (pure, tested as exact text) and Markdown.

Everything that leaves goes through `redact_text`, evidence lines included.
"""

from __future__ import annotations

from typing import Any

from v4doctor.output.redact import redact_text
from v4doctor.output.render import md_escape

SYMBOL = {"error": "✗", "warning": "!", "info": "i"}
STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def headline(d: dict[str, Any]) -> str:
    """`v4doctor diagnose: vllm 0.25.0, model deepseek-ai/DeepSeek-V4-Flash`."""
    det = d["detected"]
    engine = " ".join(x for x in (det.get("engine"), det.get("engine_version")) if x) or "engine not recognised"
    model = f", model {det['model']}" if det.get("model") else ""
    return f"v4doctor diagnose: {engine}{model}"


def verdict(d: dict[str, Any]) -> str:
    n = len(d["diagnoses"])
    if d["healthy"] and not n:
        return "No known problem in this log."
    if d["healthy"]:
        return f"No failure; {n} thing(s) worth a look."
    return f"{sum(1 for x in d['diagnoses'] if x['severity'] == 'error')} problem(s) found, most likely root cause first."


def terminal_lines(d: dict[str, Any], verbose: bool = False) -> list[tuple[str, str]]:
    """(text, style) lines of the terminal report."""
    lines: list[tuple[str, str]] = [(headline(d), "bold"), ("", "")]
    for i, item in enumerate(d["diagnoses"], 1):
        lines += _item_lines(i, item, verbose)
    lines.append((verdict(d), "bold green" if d["healthy"] else "bold red"))
    return [(redact_text(text), style) for text, style in lines]


def _item_lines(n: int, item: dict[str, Any], verbose: bool) -> list[tuple[str, str]]:
    sev = item["severity"]
    out = [(f"{n}. {SYMBOL.get(sev, '?')} {item['title']}  [{item['id']}, {item['category']}, confidence {item['confidence']:.2f}]", STYLE.get(sev, ""))]
    out.append((f"   cause: {item['cause']}", ""))
    evidence = item["evidence"] if verbose else item["evidence"][:3]
    out += [(f"   line {e['line']}: {e['text']}", "dim") for e in evidence]
    out.append((f"   fix: {item['fix']}", "green"))
    if item.get("fix_command"):
        out.append((f"     $ {item['fix_command']}", "green"))
    if item.get("troubleshooting"):
        out.append((f"   see: v4doctor explain {item['troubleshooting']}", "dim"))
    out.append(("", ""))
    return out


def markdown(d: dict[str, Any]) -> str:
    """A report to paste into a ticket."""
    out = [f"## {md_escape(headline(d))}", ""]
    for i, item in enumerate(d["diagnoses"], 1):
        out.append(f"{i}. **{item['severity']}** `{item['id']}` {md_escape(item['title'])} (confidence {item['confidence']:.2f})")
        out.append(f"   - cause: {md_escape(item['cause'])}")
        out += [f"   - line {e['line']}: `{redact_text(e['text']).replace('`', chr(39))}`" for e in item["evidence"][:3]]
        out.append(f"   - fix: {md_escape(item['fix'])}")
        if item.get("fix_command"):
            out.append(f"     ```\n     {redact_text(item['fix_command']).replace('`', '')}\n     ```")
    out += ["", f"**{md_escape(verdict(d))}**"]
    return "\n".join(out) + "\n"
