"""Readers for tools/gen_flags.py: `--help` text and llama.cpp's arg.cpp, plus the record shape.

Not run by itself; `python tools/gen_flags.py ...` is the entry point.
"""

from __future__ import annotations

import ast
import re


def _record(names, *, value, nargs=None, choices=None, strict=False, negations=(), fields=None) -> dict:
    return {
        "names": list(dict.fromkeys(names)),
        "negations": list(dict.fromkeys(negations)),
        "value": bool(value),
        "nargs": nargs,
        "choices": list(choices) if choices is not None else None,
        "strict": bool(strict and choices is not None),
        "fields": sorted(set(fields)) if fields else None,
    }


def _key(names: list[str]) -> str:
    longs = [n for n in names if n.startswith("--")] or names
    return longs[0].lstrip("-")


# --------------------------------------------------------------------------- vLLM --help=all
_OPT_LINE = re.compile(r"^  (-[^ ].*)$")


def _split_opts(line: str) -> tuple[str, str]:
    """`--a A, -x A    help` -> ("--a A, -x A", "help")."""
    m = re.search(r" {2,}", line)
    return (line[: m.start()], line[m.end():]) if m else (line, "")


def _parse_part(part: str) -> tuple[str, str | None]:
    name, _, metavar = part.partition(" ")
    return name, metavar or None


def _inverse(name: str) -> str | None:
    """`--enable-x` <-> `--disable-x`: the pair vLLM >= 0.33's EnableDisableAction shows in help."""
    for a, b in (("--enable-", "--disable-"), ("--disable-", "--enable-")):
        if name.startswith(a):
            return b + name[len(a):]
    return None


def _help_record(opts: str, desc: str) -> tuple[str, dict]:
    parts = [_parse_part(p) for p in re.split(r", (?=-)", opts)]
    first_name, first_meta = parts[0]
    names, negations = [first_name], []
    for name, _meta in parts[1:]:
        (negations if (name.startswith("--no-") or _inverse(first_name) == name) and first_meta is None else names).append(name)
    if first_meta is None and _inverse(first_name) in negations:
        negations.append("--no-" + first_name[2:])  # vLLM's EnableDisableAction keeps --no-<flag>, hidden from help
    choices, strict, nargs = None, False, None
    if first_meta:
        if first_meta.startswith("{"):
            choices, strict = first_meta.strip("{}").split(","), True
        elif first_meta.startswith("['"):
            choices = [str(c) for c in ast.literal_eval(first_meta)]
        if "..." in first_meta:
            nargs = "+"
        elif first_meta.startswith("[") and not choices:
            nargs = "?"
    fields = None
    if "valid JSON string" in desc:
        m = re.search(r"default:\s*\w+\((.*)\)\)?\s*$", desc, re.S)
        fields = re.findall(r"(\w+)=", m.group(1)) if m else None
    return _key(names), _record(names, value=first_meta is not None, nargs=nargs, choices=choices, strict=strict,
                                negations=negations, fields=fields)


def from_vllm_help(text: str) -> dict:
    flags: dict[str, dict] = {}
    current: list[str] | None = None
    for line in text.splitlines() + ["  -END"]:
        m = _OPT_LINE.match(line)
        if m or (line and not line.startswith("   ")):
            if current:
                key, rec = _help_record(current[0], " ".join(current[1:]))
                flags.setdefault(key, rec)
            current = None
            if m:
                opts, desc = _split_opts(m.group(1))
                current = [opts, desc]
        elif current is not None:
            current.append(line.strip())
    flags.pop("END", None)
    flags.pop("help", None)
    return flags


# --------------------------------------------------------------------------- llama.cpp (arg.cpp)
_LLAMA_ARG = re.compile(r"common_arg\(\s*((?:\{[^}]*\}\s*,\s*)+)(.*?)\[[^\]]*\]\s*\(([^)]*)\)", re.S)


def from_llama_arg_cpp(src: str) -> dict:
    """Options of `common_arg({"-m", "--model"}, "FNAME", "help", [](common_params & params, const std::string & value)`."""
    flags: dict[str, dict] = {}
    for m in _LLAMA_ARG.finditer(src):
        lists = [re.findall(r'"(-[^"]+)"', b) for b in re.findall(r"\{([^}]*)\}", m.group(1))]
        if not lists or not lists[0]:
            continue
        params = [p.strip() for p in m.group(3).split(",")]
        value = len(params) > 1 and not params[1].startswith("bool")
        meta = re.match(r'\s*"([^"]*)"\s*,', m.group(2))
        metavar = meta.group(1) if value and meta else None
        choices = metavar.strip("[]").split("|") if metavar and metavar.startswith("[") and "|" in metavar else None
        negs = lists[1] if len(lists) > 1 else []
        flags.setdefault(_key(lists[0]), _record(lists[0], value=value, choices=choices, negations=negs))
    return flags
