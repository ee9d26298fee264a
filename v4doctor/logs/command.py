"""The launch command seen in a log, rebuilt and corrected with the values a diagnosis found.

Minimal on purpose: `v4doctor.launch` owns full launch-plan parsing; here a vLLM
`non-default args` dict or an echoed `vllm serve …` line is enough to print the fixed command.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from v4doctor.logs.logfacts import LogFacts

_POSITIONAL = ("model_tag", "model")


def base_command(facts: LogFacts) -> list[str] | None:
    """argv of the launch: the echoed command line, else vLLM's non-default args; None when the log shows neither."""
    if facts.command:
        try:
            return shlex.split(facts.command.replace("\\\n", " "))
        except ValueError:  # an unbalanced quote in a pasted line
            return facts.command.split()
    if facts.engine == "vllm" and facts.args:
        return vllm_argv(facts.args)
    return None


def vllm_argv(args: dict[str, Any]) -> list[str]:
    """`{'model_tag': 'm', 'tensor_parallel_size': 2, 'trust_remote_code': True}` -> vllm serve m --tensor-parallel-size 2 --trust-remote-code."""
    model = next((args[k] for k in _POSITIONAL if args.get(k)), None)
    argv = ["vllm", "serve"] + ([str(model)] if model else [])
    for key, value in args.items():
        if key in _POSITIONAL or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False:
            argv.append("--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        elif isinstance(value, dict):
            argv += [flag, json.dumps(value)]
        else:
            argv += [flag, str(value)]
    return argv


def set_flags(argv: list[str], flags: dict[str, str]) -> list[str]:
    """Set `--flag value` (or a bare `--flag` when value is empty), replacing `--flag x`, `--flag=x` and `--flag_x` spellings."""
    out = list(argv)
    for flag, value in flags.items():
        out = _drop(out, flag)
        out += [flag] + ([value] if value else [])
    return out


def _drop(argv: list[str], flag: str) -> list[str]:
    names = {flag, flag.replace("-", "_").replace("__", "--", 1)}
    out: list[str] = []
    skip = False
    for i, tok in enumerate(argv):
        if skip:
            skip = False
            continue
        name = tok.split("=", 1)[0]
        if name in names:
            skip = "=" not in tok and i + 1 < len(argv) and not argv[i + 1].startswith("--")
            continue
        out.append(tok)
    return out


def render(argv: list[str]) -> str:
    return shlex.join(argv)
