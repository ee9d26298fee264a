"""Redaction, applied once where data leaves the process (render, snapshot, API).

Tokens never leave the machine: Hugging Face tokens (hf_…), bearer tokens, OpenAI-style
keys (sk-…), `*_TOKEN=` / `*_KEY=` / `PASSWORD=` assignments and passwords in URLs.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

_PATTERNS = [
    # user:password@ in URLs
    (re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?=@)"), r"\g<pre>" + MASK),
    # Authorization: Bearer xxx / Bearer xxx
    (re.compile(r"(?i)(?P<pre>\bbearer\s+)[A-Za-z0-9._~+/=-]{6,}"), r"\g<pre>" + MASK),
    # NAME=value / NAME: value for secret-looking names (env assignments, flags, JSON-ish)
    (
        re.compile(
            r"""(?ix)(?P<pre>\b[A-Z0-9_]*(?:TOKEN|API_KEY|APIKEY|SECRET|PASSWORD|PASSWD|ACCESS_KEY)\b
                 ["']?\s*[=:]\s*["']?)(?P<val>[^\s"',}]+)"""
        ),
        r"\g<pre>" + MASK,
    ),
    # --api-key VALUE / --hf-token VALUE / --token VALUE
    (re.compile(r"(?i)(?P<pre>--(?:api-key|hf-token|token|password)(?:=|\s+))(?P<val>[^\s\"']+)"), r"\g<pre>" + MASK),
    # bare token shapes
    (re.compile(r"\bhf_[A-Za-z0-9]{10,}"), MASK),
    (re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
]


# Every pattern above needs one of these (lower-cased); a text without any is returned as it is.
_TRIGGERS = ("token", "key", "secret", "passw", "bearer", "://", "hf_", "sk-", "gh")


def redact_text(text: str) -> str:
    if not text:
        return text
    low = text.lower()
    if not any(t in low for t in _TRIGGERS):
        return text
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


# A key or flag whose value is a secret: HF_TOKEN, MY_API_KEY, api-key, password (not max_tokens).
_SECRET_NAME = re.compile(r"(?i)(?:^|[_-])(?:token|api[_-]?key|apikey|secret|password|passwd|access[_-]key)$")


def redact(data: Any) -> Any:
    """Redact JSON-ready data: every string's token shapes, a value under a secret-named key
    (`{"env": {"MY_API_KEY": "..."}}`), and the item after a secret flag in an argv list."""
    if isinstance(data, str):
        return redact_text(data)
    if isinstance(data, dict):
        return {k: MASK if isinstance(v, str) and v and _SECRET_NAME.search(str(k)) else redact(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        out, hide = [], False
        for v in data:
            out.append(MASK if hide and isinstance(v, str) else redact(v))
            hide = isinstance(v, str) and v.startswith("-") and "=" not in v and bool(_SECRET_NAME.search(v.lstrip("-")))
        return out
    return data
