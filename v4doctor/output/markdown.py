"""Markdown answers a support bot can paste (`Accept: text/markdown`).

Every string that came from the poster (log lines, commands, titles built from them) goes
through `render.md_escape` or into a fence longer than any backtick run inside it, after
redaction, so a pasted log can neither inject markup nor leak a token.
"""

from __future__ import annotations

import re
from typing import Any

from v4doctor.output.redact import redact_text
from v4doctor.output.render import md_escape

_TICKS = re.compile(r"`+")


def fenced(text: str, lang: str = "") -> str:
    """A code block that no content can close early: the fence outgrows every backtick run."""
    text = redact_text(text)
    longest = max((len(m) for m in _TICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def _e(value: Any) -> str:
    return md_escape(str(value)) if value not in (None, "") else ""


def _code(value: Any) -> str:
    """An inline code span (ids): no backtick or newline can end it early."""
    return "`" + redact_text(str(value)).replace("`", "'").replace("\n", " ") + "`"


def diagnosis(d: dict[str, Any]) -> str:
    """A `diagnose --json` object as Markdown: verdict, then each diagnosis with its evidence."""
    det = d.get("detected") or {}
    seen = ", ".join(f"{k}: {_code(det[k])}" for k in ("engine", "engine_version", "model") if det.get(k))  # code: no autolinks
    out = ["## v4doctor diagnosis", "", f"_{seen}_" if seen else "", ""]
    if not d.get("diagnoses"):
        out.append("No known problem found in this log." if d.get("healthy") else "No known signature matched.")
    for i, g in enumerate(d.get("diagnoses") or [], 1):
        out += _diagnosis_item(i, g)
    return "\n".join(out).strip() + "\n"


def _diagnosis_item(i: int, g: dict[str, Any]) -> list[str]:
    conf = g.get("confidence")
    head = f"### {i}. {_e(g.get('title'))} ({_e(g.get('severity'))}, {_code(g.get('id'))}"
    head += f", confidence {conf:.0%})" if isinstance(conf, (int, float)) else ")"
    out = [head, "", f"**Cause:** {_e(g.get('cause'))}", "", f"**Fix:** {_e(_fix_text(g.get('fix')))}", ""]
    if g.get("fix_command"):
        out += [fenced(str(g["fix_command"]), "sh"), ""]
    lines = [f"{e.get('line')}: {e.get('text')}" for e in g.get("evidence") or []]
    if lines:
        out += ["Evidence:", "", fenced("\n".join(lines)), ""]
    if g.get("troubleshooting"):
        out += [f"Troubleshooting row: {_code(g['troubleshooting'])}", ""]
    return out


def _fix_text(fix: Any) -> str:
    return fix.get("text", "") if isinstance(fix, dict) else str(fix or "")


def fix_result(d: dict[str, Any]) -> str:
    """A proposed launch-plan fix as Markdown: the findings, then the diff."""
    out = ["## v4doctor fix", ""]
    for f in d.get("findings") or []:
        out.append(f"- **{_e(f.get('severity'))}** {_code(f.get('id'))} {_e(f.get('title'))}")
    out.append("")
    if not d.get("changed"):
        return "\n".join(out + ["Nothing to fix."]) + "\n"
    out += ["Proposed change:", "", fenced(str(d.get("diff", "")), "diff"), ""]
    return "\n".join(out)


def rows(d: dict[str, Any]) -> str:
    """The troubleshooting table as a list (tables break on long cells in chat clients)."""
    out = ["## v4doctor troubleshooting", ""]
    for r in d.get("rows") or []:
        out.append(f"- **{_e(r.get('symptom'))}** ({_code(r.get('id'))})")
        out.append(f"  - cause: {_e(r.get('cause'))}")
        out.append(f"  - fix: {_e(r.get('fix'))}")
    return "\n".join(out) + "\n"


def checks(d: dict[str, Any]) -> str:
    out = ["## v4doctor checks", ""]
    out += [f"- {_code(c['id'])} ({_e(c['category'])}) {_e(c['title'])}" for c in d.get("checks") or []]
    return "\n".join(out) + "\n"
