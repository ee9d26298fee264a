"""Pasted shell snippets: `export VAR=...` lines, `\\` continuations, `&&`/`;`, then one launch.

    export CUDA_VISIBLE_DEVICES=0,1
    VLLM_USE_DEEP_GEMM=0 vllm serve deepseek-ai/DeepSeek-V4-Flash \\
      --tensor-parallel-size 2
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from v4doctor.errors import UsageError
from v4doctor.launch.parse import _ASSIGN, _basename, _launcher, parse_command
from v4doctor.launch.spec import LaunchSpec, check_word_length


def _statements(text: str) -> list[list[str]]:
    """Split a pasted snippet into commands: `\\` continuations joined, `&&`, `;` and newlines split."""
    check_word_length(text)
    joined = re.sub(r"\\\r?\n", " ", text)
    out = []
    for line in joined.splitlines():
        try:
            lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
            lexer.whitespace_split, lexer.commenters = True, "#"
            tokens = list(lexer)
        except ValueError as exc:
            raise UsageError(f"cannot parse the command: {exc}") from None
        current: list[str] = []
        for tok in tokens + [";"]:
            if tok in (";", "&&", "||", "&", "|"):
                if current:
                    out.append(current)
                current = []
            else:
                current.append(tok)
    return out


def parse_text(text: str) -> LaunchSpec:
    """A pasted shell snippet: `export VAR=...` lines, then one launch command (`\\` continued)."""
    env: dict[str, str] = {}
    others: list[list[str]] = []
    pulled: LaunchSpec | None = None
    for tokens in _statements(text):
        if tokens[0] == "export":
            for kv in tokens[1:]:
                if "=" in kv:
                    k, _, v = kv.partition("=")
                    env[k] = v
            continue
        if all(_ASSIGN.match(t) for t in tokens):
            env.update(dict(t.split("=", 1) for t in tokens))
            continue
        if _is_launch(tokens):
            spec = parse_command(tokens)
            if spec.launcher[-1:] in (("pull",), ("create",)) and spec.engine == "ollama":
                pulled = pulled or _merge_env(spec, env)  # a download: the `ollama run` after it is the launch
                continue
            return _merge_env(spec, env)
        others.append(tokens)
    if pulled:
        return pulled
    if len(others) == 1:
        parse_command(others[0])  # raises the precise "cannot tell the engine of ..." error
    raise UsageError("no launch command found (expected vllm serve, python -m sglang.launch_server, llama-server, ollama or docker run)")


def _is_launch(tokens: list[str]) -> bool:
    rest = [t for t in tokens if not _ASSIGN.match(t)] or tokens
    while rest and rest[0] in ("env", "sudo", "nohup", "exec", "time"):
        rest = rest[1:]
    if rest and _basename(rest[0]) in ("docker", "podman", "nvidia-docker"):
        return rest[1:2] in (["run"], ["exec"]) or rest[1:3] == ["container", "run"]
    return bool(rest) and _launcher(rest) is not None


def _merge_env(spec: LaunchSpec, env: dict[str, str]) -> LaunchSpec:
    return replace(spec, env={**env, **spec.env}) if env else spec
