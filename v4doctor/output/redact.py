"""Redaction, applied once where data leaves the process (render, snapshot, API).

Tokens never leave the machine: Hugging Face tokens (hf_…), bearer and Basic credentials,
OpenAI/Anthropic-style keys (sk-…), GitHub tokens, AWS access key ids, GCP API keys, JWTs,
PEM private keys, Azure account keys and SAS signatures, `*_TOKEN=` / `*_KEY=` /
`PASSWORD=` / `auth:` assignments, secret flags (`--api-key K1 K2`, `--api_key`, quoted,
compose list forms) and passwords in URLs. ANSI codes are removed first, so a code glued
to a token cannot hide it; a token shape cut off at the end of a text is masked too.

Every pattern runs in linear time on any input: each repeated class stops at a character
the next part needs, and no pattern starts a long scan at every position of a run
(a URL's password is found from its `://`, not from every letter of a possible scheme).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "[REDACTED]"

# CSI (colours), OSC (titles, links) ended by BEL or ESC \ or unended up to the line's end.
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")

_SECRET_WORDS = r"TOKEN|API_?KEY|SECRET(?:_?KEY)?|PASSWORD|PASSWD|ACCESS_?KEY|PRIVATE_?KEY|ACCOUNT_?KEY|SHAREDACCESSKEY|AUTH(?:ORIZATION)?|CREDENTIALS?"
# A value: quoted chunks and plain characters up to whitespace or a JSON/YAML delimiter, so a stray
# or doubled quote (`""K"`, `\\"K\\"`, `k1" K2"`) cannot end the match before the secret does.
_VALUE = r"""(?:"[^"\n]*"|'[^'\n]*'|[^\s,}\]])+"""
_WS = r"(?:\s|\\\n[-+ ]?)"  # whitespace, or a printed command's line continuation (in a diff: and the next line's mark)
_FLAG = r"--(?:api[-_]key|hf[-_]token|token|password|auth[-_]token|access[-_]token)"

_PATTERNS = [
    # user:password@ in URLs
    # (from `://` on: a scheme glued to earlier text (`0000https://u:p@h`) still counts, and each `://`
    # starts one scan bounded by the next `/`, space, `:` or `@`, so the pattern stays linear)
    (re.compile(r"(?P<pre>://[^/\s:@]+:)[^@\s/]+(?=@)"), r"\g<pre>" + MASK),
    # PEM private keys (bounded: a key is a few KB)
    (re.compile(r"\bBEGIN [A-Z ]{0,40}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\n){0,16384}(?:-----END [A-Z ]{0,40}PRIVATE KEY-----)?"), MASK),
    # Authorization: Bearer xxx / Bearer xxx (Basic only after an auth name, below)
    (re.compile(r"(?i)(?P<pre>\bbearer" + _WS + "+)[A-Za-z0-9._~+/=-]{6,}"), r"\g<pre>" + MASK),
    # Basic credentials on their own (a header value moved from its name): base64, not a word
    (re.compile(r"(?P<pre>\bBasic" + _WS + r"+)(?![A-Z]?[a-z]+\b)[A-Za-z0-9+/]{12,}={0,2}"), r"\g<pre>" + MASK),
    # --api-key K1 K2 (vLLM takes several) / --api_key=K / "--api-key", "K" / YAML "- --api-key\n - K"
    (
        re.compile(
            r"""(?i)(?P<pre>""" + _FLAG + r"""(?:=|["']?\s*,\s*|[ \t]*\n[ \t]*-[ \t]*|(?:[ \t]|\\\n[-+ ]?)+))"""
            r"""(?!-|\[REDACTED\])""" + _VALUE + r"""(?:(?:[ \t]|\\\n[-+ ]?)+(?![-\\]|\[REDACTED\])""" + _VALUE + r""")*"""
        ),
        r"\g<pre>" + MASK,
    ),
    # NAME=value / NAME: value for secret-looking names: a quote before the colon needs a quoted value
    # (`{"api_key": "x"}`), so prose like `…secret': try` is left alone.
    (
        re.compile(
            r"(?ia)(?P<pre>\b[A-Z0-9_]*(?:" + _SECRET_WORDS + r")\b"
            r"""(?:["']\s*[=:]\s*(?=["'])|\s*[=:]""" + _WS + r"""*)(?:(?:basic|bearer|token|digest)""" + _WS + r"""+)?)(?!\[REDACTED\])""" + _VALUE
            # a value that ends in `=`/`:` swallowed the next name (`Credential=x%2Fpassword: K`): its value goes too
            + r"""(?:(?<=[=:])\s+""" + _VALUE + ")*"
        ),
        r"\g<pre>" + MASK,
    ),
    # bare token shapes (also when cut off at the end of the text)
    (re.compile(r"hf_(?:[A-Za-z0-9]{10,}|(?=[a-z]*[A-Z0-9])[A-Za-z0-9]+\Z)"), MASK),  # not the word hf_token
    # sk- glued to a word (an ANSI code removed before it) still counts when the rest is key-like
    (re.compile(r"\bsk-(?:proj-|ant-)?(?:[A-Za-z0-9_-]{16,}|[A-Za-z0-9_-]*\Z)"), MASK),
    (re.compile(r"sk-(?:proj-|ant-)?(?=[a-z_-]{0,40}[A-Z0-9])[A-Za-z0-9_-]{20,}"), MASK),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), MASK),
    (re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}"), MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), MASK),
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"(?i)\bsig=[A-Za-z0-9%+/=]{16,}"), "sig=" + MASK),
]


# Every pattern above needs one of these (lower-cased); a text without any is returned as it is.
_TRIGGERS = ("token", "key", "secret", "passw", "bearer", "basic", "auth", "credential", "://", "hf_", "sk-",
             "gh", "akia", "asia", "aiza", "eyj", "sig=", "\x1b")


MAX_VALUES = 64
_SPLIT = re.compile(r"""(?:\s|\\\n|["',])+""")


def secret_values(text: str) -> tuple[str, ...]:
    """Every secret value the patterns find in `text` (8+ characters each), longest first. A rewrite
    can move a value away from the context that showed it was one (`ollama run --api-key K`
    re-rendered as `ollama run K`); `mask_values` then masks the values themselves."""
    if not text or not _triggered(text):
        return ()
    found: set[str] = set()
    clean = ANSI.sub("", text) if "\x1b" in text else text
    for pattern, _ in _PATTERNS:
        for m in pattern.finditer(clean):
            value = m.group(0)[len(m.group("pre")):] if "pre" in pattern.groupindex else m.group(0)
            found.update(v for v in _SPLIT.split(value) if len(v) >= 8 and MASK not in v)
    return tuple(sorted(found, key=len, reverse=True))[:MAX_VALUES]


def mask_values(data: Any, values: tuple[str, ...]) -> Any:
    """`data` (text or JSON-ready) with every occurrence of each value replaced by the mask."""
    if not values:
        return data
    if isinstance(data, str):
        for value in values:
            if value in data:
                data = data.replace(value, MASK)
        return data
    if isinstance(data, dict):
        return {mask_values(k, values): mask_values(v, values) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_values(v, values) for v in data]
    return data


def _triggered(text: str) -> bool:
    low = text.lower()
    return any(t in low for t in _TRIGGERS)


def redact_text(text: str) -> str:
    if not text or not _triggered(text):
        return text
    hidden: tuple[str, ...] = ()
    if "\x1b" in text:
        # An escape code cut short ends at the next character (`ESC[31 hf_K` loses the `h`, `ESC[3/AccountKey=K`
        # the `A`), so what is left is no known shape: the values found with each ESC read as a space are
        # masked too, also without their first character.
        hidden = tuple(v for value in secret_values(text.replace("\x1b", " ")) for v in (value, value[1:]))
        text = ANSI.sub("", text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return mask_values(text, hidden)


# A key or flag whose value is a secret: HF_TOKEN, MY_API_KEY, api-key, password (not max_tokens).
_SECRET_NAME = re.compile(r"(?i)(?:^|[_-])(?:token|api[_-]?key|apikey|secret|password|passwd|access[_-]key|private[_-]key|auth|authorization|credentials?)[\W_]*$")
_MULTI = re.compile(r"(?i)^--?api[-_]key[\W_]*$")  # vLLM: --api-key API_KEY [API_KEY ...]
_GLUED_FLAG = re.compile(r"(?i)--(?:api[-_]key|hf[-_]token|token|password|auth[-_]token|access[-_]token)[\W_]*$")


def redact(data: Any) -> Any:
    """Redact JSON-ready data: every string's token shapes, a value under a secret-named key
    (`{"env": {"MY_API_KEY": "..."}}`), and the items after a secret flag in an argv list
    (all of them up to the next flag for vLLM's multi-valued `--api-key`)."""
    if isinstance(data, str):
        return redact_text(data)
    if isinstance(data, dict):
        return {_key(k): MASK if _secret_value(k, v) else redact(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        out, hide, multi = [], False, False
        for v in data:
            glued = isinstance(v, str) and not v.startswith("-") and bool(_GLUED_FLAG.search(v))  # `name--api-key` from shell quotes
            flag = isinstance(v, str) and v.startswith("-") or glued
            if multi and flag:
                hide = multi = False
            out.append(MASK if hide and isinstance(v, str) else redact(v))
            if flag:
                name = v.split("=", 1)[0] if not glued else "--" + v.rsplit("--", 1)[-1]
                secret = bool(_SECRET_NAME.search(name.lstrip("-")))
                hide, multi = secret and "=" not in v, secret and "=" not in v and bool(_MULTI.match(name))
            elif not multi:  # `auth:` `Basic X` split by a shell: the item after a secret name's colon
                hide = isinstance(v, str) and (v.endswith(":") and bool(_SECRET_NAME.search(v)) or v.lower() in ("bearer", "basic"))
        return out
    return data


def _key(key: Any) -> Any:
    """A key is text that leaves too (a pasted flag's name becomes one: `{"hf_…": true}`), also as a
    flag name normalised `_` -> `-` (`--x-hf_K` is read as `x-hf-K`)."""
    if not isinstance(key, str):
        return key
    head, space, rest = key.partition(" ")  # a secret flag's name with its value glued on (`api-key "K"`)
    if space and rest.strip() and (_SECRET_NAME.search(head) or _GLUED_NAME.search(head)):
        return f"{head} {MASK}"
    shown = redact_text(key)
    return shown if shown != key or "-" not in key else (MASK if redact_text(key.replace("-", "_")) != key.replace("-", "_") else key)


# A key that ends in a secret word glued to a word before it (`served-moAccountKey`: a token pasted into a flag's
# name), as the text patterns read `NAME=value`.
_GLUED_NAME = re.compile(r"(?i)\b[A-Z0-9_]*(?:" + _SECRET_WORDS + r")[\W_]*$")


def _secret_value(key: Any, value: Any) -> bool:
    """A secret-named key's value: a string, or a list of strings (`api_key: [K1, K2]`)."""
    if not (_SECRET_NAME.search(str(key)) or _GLUED_NAME.search(str(key))):
        return False
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) for v in value)
