"""The launch command seen in a log, rebuilt and corrected with the values a diagnosis found.

`v4doctor.launch` parses and edits the command; this module only finds it in the log: an echoed
`vllm serve …` line, or vLLM's `non-default args` dict turned back into argv.
"""

from __future__ import annotations

import functools
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


def corrected(argv: list[str], flags: dict[str, str], engines: tuple[str, ...]) -> str | None:
    """The launch command with `flags` set (`{"--max-model-len": "13528"}`; an empty value is a switch), via
    v4doctor.launch; None when the command is not one of the `engines` the flags belong to."""
    spec = _spec(tuple(argv))
    if spec is None or spec.engine not in engines:
        return None
    for flag, value in flags.items():
        spec = spec.with_flag(flag.lstrip("-"), value if value else True)
    return spec.command_text()


@functools.lru_cache(maxsize=64)
def _spec(argv: tuple[str, ...]):
    """The launch plan of argv, parsed once for every diagnosis that corrects it (LaunchSpec is frozen:
    `with_flag` makes a new one); None when v4doctor.launch does not know the command."""
    from v4doctor.errors import UsageError
    from v4doctor.launch import parse_command

    try:
        return parse_command(list(argv))
    except (UsageError, ValueError):  # a command the launch parser does not know: no corrected command, not a crash
        return None
    except Exception:  # the launch parser's own bug must not stop a diagnosis
        return None


_SGLANG_PLAN_KEYS = ("tp_size", "dp_size", "pp_size", "ep_size", "context_length", "mem_fraction_static",
                     "kv_cache_dtype", "quantization", "enable_dp_attention")


def sglang_argv(args: dict[str, Any]) -> list[str] | None:
    """The launch plan of SGLang's printed `ServerArgs(model_path='m', tp_size=4, ...)` as argv, from the fields
    that shape the layout and memory only (the dump lists every field, most at their defaults)."""
    model = args.get("model_path")
    if not model:
        return None
    argv = ["python", "-m", "sglang.launch_server", "--model-path", str(model)]
    for key in _SGLANG_PLAN_KEYS:
        value = args.get(key)
        if value is None or value is False or isinstance(value, (list, dict)):
            continue
        argv += ["--" + key.replace("_", "-")] + ([] if value is True else [str(value)])
    return argv
