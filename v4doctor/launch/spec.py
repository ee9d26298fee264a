"""LaunchSpec: one planned engine launch, whatever it was written as (command, snippet, compose).

Immutable; the `with_*` / `without_flag` helpers return a new spec, which is what the pure
fixers need. `argv()` gives the engine tokens back in the user's order and spelling.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Any

from v4doctor.errors import UsageError

ENGINES = ("vllm", "sglang", "llamacpp", "ollama")
ENV_PREFIXES = ("CUDA_", "VLLM_", "HF_", "NCCL_", "HUGGING", "SGLANG_", "TORCH_", "PYTORCH_", "OLLAMA_", "LLAMA_", "NVIDIA_")


def interesting_env(env: dict[str, str]) -> dict[str, str]:
    """The variables that change how an engine starts (CUDA_VISIBLE_DEVICES, VLLM_*, HF_*, NCCL_*...)."""
    return {k: v for k, v in env.items() if k.startswith(ENV_PREFIXES)}


@dataclass(frozen=True)
class Arg:
    """One option as written: `--max-model-len 131072` -> key "max-model-len", values ("131072",)."""

    key: str  # canonical flag key; "" for a positional argument
    option: str  # as written: "--max-model-len", "-tp", "--no-enable-prefix-caching"
    values: tuple[str, ...] = ()
    negated: bool = False
    joined: bool = False  # written `--flag=value`
    sub: str = ""  # vLLM dotted form: `--attention-config.indexer_kv_dtype=mxfp4` -> "indexer_kv_dtype"

    @property
    def name(self) -> str:
        """The key a check reads: "max-model-len", or "attention-config.indexer_kv_dtype"."""
        return f"{self.key}.{self.sub}" if self.sub else self.key

    def tokens(self) -> list[str]:
        if not self.key:
            return list(self.values)
        if self.joined and len(self.values) == 1:
            return [f"{self.option}={self.values[0]}"]
        return [self.option, *self.values]


@dataclass(frozen=True)
class LaunchSpec:
    engine: str  # vllm | sglang | llamacpp | ollama
    model: str | None
    args: tuple[Arg, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None
    launcher: tuple[str, ...] = ()  # ("vllm", "serve"), ("python3", "-m", "sglang.launch_server"), () in compose
    model_positional: bool = False  # `vllm serve MODEL` / `ollama run MODEL`
    docker: tuple[str, ...] = ()  # `docker run ...` tokens before the image
    kind: str = "cmd"  # "cmd" | "compose"
    gpus: str | None = None  # docker --gpus, or compose device count
    shm_size: str | None = None
    ipc: str | None = None
    service: str | None = None  # compose service name
    config_file: str | None = None  # vLLM --config FILE.yaml
    config_args: tuple[Arg, ...] = ()  # options read from that file (the command line wins)

    # ------------------------------------------------------------------ reading
    @property
    def flags(self) -> dict[str, Any]:
        """Flag name -> value: a switch is True/False, one value a str, several a list."""
        out: dict[str, Any] = {}
        for a in (*self.config_args, *self.args):
            if a.key:
                out[a.name] = (not a.negated) if not a.values else a.values[0] if len(a.values) == 1 else list(a.values)
        return out

    def flag(self, name: str, default: Any = None) -> Any:
        return self.flags.get(name, default)

    def number(self, name: str, default: float | None = None) -> float | None:
        """A numeric flag, or `default` when unset or not a number."""
        try:
            return float(self.flags[name])
        except (KeyError, TypeError, ValueError):
            return default

    def argv(self) -> list[str]:
        """The engine's own tokens: launcher, positional model, then the options in order."""
        head = list(self.launcher)
        if self.model_positional and self.model:
            head.append(self.model)
        return head + [t for a in self.ordered_args() for t in a.tokens()]

    def ordered_args(self) -> list[Arg]:
        """The options in order, so that the text reads back the same: when a positional word follows a flag
        written without a value (a fixer removed what stood between them: `--model-pah --hf-token K MODEL`
        minus `--hf-token K`), the positional words go first, in their order, where no flag can take one
        as its value."""
        if not any(not a.key and p.key and not p.values for p, a in zip(self.args, self.args[1:])):
            return list(self.args)
        return [a for a in self.args if not a.key] + [a for a in self.args if a.key]

    def env_prefix(self) -> list[str]:
        """`NAME=value` words before the command: shell names only (bash refuses `export A▫B=1`), and in a
        `docker run` not the variables its `-e` options set (they are written there)."""
        inside = _docker_env_names(self.docker)
        return [f"{k}={v}" for k, v in self.env.items() if _ENV_NAME.fullmatch(k) and k not in inside]

    def command(self) -> list[str]:
        """The whole command line as tokens (env assignments, docker run, image, engine argv)."""
        if self.image and self.kind == "cmd":
            return [*self.docker, self.image, *self.argv()]
        return [*self.env_prefix(), *self.argv()]

    def command_text(self) -> str:
        return " ".join(shlex.quote(t) for t in self.command())

    # ------------------------------------------------------------------ editing (pure)
    def with_flag(self, name: str, value: str | bool | list[str]) -> "LaunchSpec":
        """Set a flag (replacing it where it is, else appending it as `--name value`)."""
        key, _, sub = name.partition(".")
        values = () if isinstance(value, bool) else tuple(value) if isinstance(value, list) else (str(value),)
        negated = value is False
        args, done = [], False
        for a in self.args:
            if a.key == key and a.sub == sub:
                if not done:
                    opt = a.option if not a.negated or negated else "--" + key
                    args.append(replace(a, option=opt, values=values, negated=negated))
                done = True
            else:
                args.append(a)
        if not done:
            opt = f"--{key}.{sub}" if sub else ("--no-" + key if negated else "--" + key)
            args.append(Arg(key, opt, values, negated=negated, joined=bool(sub)))
        return replace(self, args=tuple(args))

    def without_flag(self, name: str) -> "LaunchSpec":
        key, _, sub = name.partition(".")
        return replace(self, args=tuple(a for a in self.args if not (a.key == key and a.sub == sub)))

    def rename_flag(self, name: str, new: str, value: str | None = None) -> "LaunchSpec":
        """Replace `name` by `new` in place (keeping its position), optionally with a new value."""
        key, _, sub = new.partition(".")
        old_key, _, old_sub = name.partition(".")
        args = []
        for a in self.args:
            if a.key == old_key and a.sub == old_sub:
                vals = (value,) if value is not None else a.values
                opt = f"--{key}.{sub}" if sub else f"--{key}"
                args.append(Arg(key, opt, vals, joined=a.joined or bool(sub), sub=sub))
            else:
                args.append(a)
        return replace(self, args=tuple(args))

    def with_model(self, model: str) -> "LaunchSpec":
        spec = replace(self, model=model)
        if self.model_positional:
            return spec
        for name in ("model", "model-path"):
            if name in self.flags:
                return spec.with_flag(name, model)
        return spec

    def with_image(self, image: str) -> "LaunchSpec":
        return replace(self, image=image)

    def with_container(self, *, shm_size: str | None = None, ipc: str | None = None) -> "LaunchSpec":
        spec = self
        if shm_size is not None:
            spec = replace(spec, shm_size=shm_size, docker=_docker_set(spec.docker, "--shm-size", shm_size))
        if ipc is not None:
            spec = replace(spec, ipc=ipc, docker=_docker_set(spec.docker, "--ipc", ipc))
        return spec

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine, "model": self.model, "flags": self.flags, "env": dict(self.env),
            "engine_env": interesting_env(self.env),
            "image": self.image, "kind": self.kind, "gpus": self.gpus, "shm_size": self.shm_size,
            "ipc": self.ipc, "service": self.service, "config_file": self.config_file,
            "argv": self.argv(),
        }


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _docker_env_names(tokens: tuple[str, ...]) -> set[str]:
    """Names a `docker run`'s `-e NAME=v` / `--env=NAME=v` options set."""
    out, take = set(), False
    for t in tokens:
        if take:
            out.add(t.partition("=")[0])
        take = t in ("-e", "--env")
        if t.startswith(("-e=", "--env=")):
            out.add(t.partition("=")[2].partition("=")[0])
    return out


def _docker_set(tokens: tuple[str, ...], option: str, value: str) -> tuple[str, ...]:
    """Set a `docker run` option (either spelling, `--opt v` or `--opt=v`); append it if absent."""
    if not tokens:
        return tokens
    out, i, done = [], 0, False
    while i < len(tokens):
        t = tokens[i]
        if t == option and i + 1 < len(tokens):
            out += [option, value]
            i, done = i + 2, True
            continue
        if t.startswith(option + "="):
            out.append(f"{option}={value}")
            done = True
        else:
            out.append(t)
        i += 1
    return tuple(out if done else [*out, option, value])


MAX_WORD = 16_384  # characters of one word of a command; a real one (a JSON --kv-transfer-config) has a few hundred


MAX_WORDS = 2_000  # words of a whole pasted snippet (one command has at most MAX_ARGS = 400)


def check_word_length(text: str) -> None:
    """Refuse a word too long to be real, or too many words, before the shell splitter sees them: `shlex`
    builds a word one character at a time, quadratic in its length (a 200 KB word took 3.4 s), and
    20,000 flags took it ~1 s before the word count was refused. A usage error naming the limit."""
    words = text.split()  # C speed, linear
    longest = max(map(len, words), default=0)
    if longest > MAX_WORD:
        raise UsageError(f"the command has a word of {longest:,} characters; at most {MAX_WORD:,} are read (limit MAX_WORD)")
    if len(words) > MAX_WORDS:
        raise UsageError(f"the text has {len(words):,} words; at most {MAX_WORDS:,} are read (limit MAX_WORDS)")


def split_command(cmd: str) -> list[str]:
    """Split a pasted launch command as a shell would (backslash-newline joins lines)."""
    check_word_length(cmd)
    text = cmd.replace("\\\r\n", " ").replace("\\\n", " ")
    try:
        argv = shlex.split(text, comments=True)
    except ValueError as exc:
        raise UsageError(f"cannot parse --cmd: {exc}") from None
    if not argv:
        raise UsageError("--cmd is empty")
    return argv
