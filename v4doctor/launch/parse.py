"""Parse launch commands into a LaunchSpec: vllm, sglang, llama-server, ollama, trtllm-serve, docker run (snippets: snippet.py).

    vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 2 --max-model-len=131072
    python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp-size 4
    docker run --gpus all --ipc=host -e HF_TOKEN=$HF_TOKEN vllm/vllm-openai:v0.33.0 --model ...

Flags are read with the engine's real flag tables (knowledge/flags/), so a switch and a flag
that takes a value are told apart; a flag missing its value is a UsageError.
"""

from __future__ import annotations

import os
import re

from v4doctor.errors import UsageError
from v4doctor.launch import flags as flagdb
from v4doctor.launch.spec import Arg, LaunchSpec

_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_NUMBER = re.compile(r"^-\d")
_PY_MODULES = {
    "vllm.entrypoints.openai.api_server": "vllm",
    "vllm.entrypoints.cli.main": "vllm",
    "sglang.launch_server": "sglang",
    "llama_cpp.server": "llamacpp",
}
IMAGE_ENGINES = (
    (re.compile(r"(^|/)vllm-openai(-rocm)?(:|@|$)"), "vllm"),
    (re.compile(r"(^|/)sglang(:|@|$)"), "sglang"),
    (re.compile(r"llama\.cpp:(server|full)"), "llamacpp"),
    (re.compile(r"(^|/)ollama(:|@|$)"), "ollama"),
    (re.compile(r"(^|/)tensorrt-llm/release(:|@|$)"), "trtllm"),
)
DOCKER_VALUE_OPTS = frozenset(
    "-e --env --env-file -p --publish -v --volume --name --gpus --shm-size --ipc --network --net --runtime "
    "--entrypoint -w --workdir -u --user --mount --device --ulimit --cpus --memory -m --label -l --restart "
    "--platform --pull --hostname -h --add-host --security-opt --cap-add --cap-drop --log-driver --log-opt "
    "--memory-swap --cpuset-cpus --stop-signal --stop-timeout --tmpfs --group-add --pid --uts --userns".split()
)


def engine_of_image(image: str) -> str | None:
    """`vllm/vllm-openai:deepseekv4-cu130` -> "vllm"; None for an image v4doctor does not know."""
    for pattern, engine in IMAGE_ENGINES:
        if pattern.search(image.lower()):
            return engine
    return None


# --------------------------------------------------------------------------- engine argv
def _is_option(tok: str) -> bool:
    return tok.startswith("-") and len(tok) > 1 and not _NUMBER.match(tok)


def _lookup(engine: str, option: str) -> tuple[str, str, bool, bool] | None:
    """Option -> (key, sub, negated, takes value) from every known version of the engine's flags."""
    head, _, sub = option.partition(".") if engine == "vllm" and option.startswith("-") else (option, "", "")
    known = flagdb.names(engine)
    hit = known.get(head) or (known.get(head.replace("_", "-")) if engine == "vllm" else None) or flagdb.unique_prefix(known, head)
    if hit is None:
        return None
    key, negated, value = hit
    return key, sub, negated, value or bool(sub)


def _nargs(engine: str, key: str) -> str | None:
    for t in reversed(flagdb.tables(engine)):
        if key in t.flags:
            return t.flags[key]["nargs"]
    return None


def parse_args(engine: str, tokens: list[str]) -> list[Arg]:
    """Engine options after the launcher: `--tp 2 --max-model-len=1024 --trust-remote-code`."""
    args, i = [], 0
    tokens = _vllm_aliases(tokens) if engine == "vllm" else tokens
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok == "--":
            continue
        if not _is_option(tok):
            args.append(Arg("", "", (tok,)))
            continue
        dotted = engine == "vllm" and "." in tok.split("=", 1)[0]  # `-cc.mode=3`
        option, eq, joined = tok.partition("=") if tok.startswith("--") or dotted else (tok, "", "")
        hit = _lookup(engine, option)
        if hit is None:
            arg, i = _unknown_arg(engine, option, joined if eq else None, tokens, i)
            args.append(arg)
            continue
        key, sub, negated, takes_value = hit
        if eq:
            args.append(Arg(key, option, (joined,), negated, joined=True, sub=sub))
            continue
        if not takes_value:
            args.append(Arg(key, option, (), negated, sub=sub))
            continue
        values, i = _take_values(engine, key, option, tokens, i)
        args.append(Arg(key, option, values, sub=sub))
    return args


def _vllm_aliases(tokens: list[str]) -> list[str]:
    """vLLM's own rewrites (FlexibleArgumentParser): `-O3`, `-O=3`, `-O 3` mean `--optimization-level 3`."""
    out = []
    for i, tok in enumerate(tokens):
        if tok.startswith("-O") and tok != "-O" and not tok.startswith("--"):
            out += ["--optimization-level", tok[3:] if tok[2] == "=" else tok[2:]]
        elif tok == "-O" and i + 1 < len(tokens) and tokens[i + 1] in ("0", "1", "2", "3"):
            out.append("--optimization-level")
        else:
            out.append(tok)
    return out


def _unknown_arg(engine: str, option: str, joined: str | None, tokens: list[str], i: int) -> tuple[Arg, int]:
    """A flag no known version has: it takes one value if one follows (the validator reports it)."""
    key = option.lstrip("-").replace("_", "-") if engine == "vllm" else option.lstrip("-")
    if joined is not None:
        return Arg(key, option, (joined,), joined=True), i
    if i < len(tokens) and not _is_option(tokens[i]):
        return Arg(key, option, (tokens[i],)), i + 1
    return Arg(key, option), i


def _take_values(engine: str, key: str, option: str, tokens: list[str], i: int) -> tuple[tuple[str, ...], int]:
    nargs = _nargs(engine, key)
    if i >= len(tokens) or _is_option(tokens[i]) and not tokens[i].startswith("-{"):
        if nargs == "?":
            return (), i
        raise UsageError(f"flag {option} is missing its value")
    values = [tokens[i]]
    i += 1
    while nargs in ("+", "*") and i < len(tokens) and not _is_option(tokens[i]):
        values.append(tokens[i])
        i += 1
    return tuple(values), i


# --------------------------------------------------------------------------- launchers
def _basename(tok: str) -> str:
    return os.path.basename(tok)


def _launcher(tokens: list[str]) -> tuple[str, int] | None:
    """(engine, tokens used by the launcher) for `vllm serve`, `python -m ...`, `llama-server`, `ollama`."""
    if not tokens:
        return None
    first = _basename(tokens[0])
    if first == "vllm" and len(tokens) > 1 and tokens[1] == "serve":
        return "vllm", 2
    if first == "sglang" and len(tokens) > 1 and tokens[1] == "serve":
        return "sglang", 2
    if re.fullmatch(r"python[\d.]*", first) and len(tokens) > 2 and tokens[1] == "-m":
        engine = _PY_MODULES.get(tokens[2])
        return (engine, 3) if engine else None
    if first in ("llama-server", "llama-cli", "server"):
        return ("llamacpp", 1) if first != "server" else None
    if first == "ollama" and len(tokens) > 1 and tokens[1] in ("run", "pull", "serve", "create"):
        return "ollama", 2
    if first == "trtllm-serve":  # `trtllm-serve MODEL ...` or `trtllm-serve serve MODEL ...`
        return "trtllm", 2 if len(tokens) > 1 and tokens[1] == "serve" else 1
    return None


def _engine_spec(engine: str, launcher: list[str], rest: list[str], **extra) -> LaunchSpec:
    args = parse_args(engine, rest)
    model, positional = _model_of(engine, launcher, args)
    if positional:
        args = [a for a in args if a is not positional]
    return LaunchSpec(engine=engine, model=model, args=tuple(args), launcher=tuple(launcher),
                      model_positional=positional is not None, **extra)


def _model_of(engine: str, launcher: list[str], args: list[Arg]) -> tuple[str | None, Arg | None]:
    positional = next((a for a in args if not a.key), None)
    by_flag = {"vllm": ("model",), "sglang": ("model-path",), "llamacpp": ("model", "hf-repo", "model-url")}
    for name in by_flag.get(engine, ()):
        hit = next((a for a in args if a.key == name and a.values), None)
        if hit:
            return hit.values[0], None
    if positional and (engine in ("ollama", "trtllm") or launcher[-1:] == ["serve"] and engine == "vllm"):
        return positional.values[0], positional
    return None, None


def _docker_run(tokens: list[str], env: dict[str, str]) -> LaunchSpec:
    """`docker run [options] IMAGE [ARGS...]` (also `docker container run`)."""
    start = 2 if tokens[1] == "run" else 3
    i, opts = start, {}
    while i < len(tokens) and tokens[i].startswith("-"):
        tok = tokens[i]
        name, eq, val = tok.partition("=")
        if not eq and name in DOCKER_VALUE_OPTS:
            if i + 1 >= len(tokens):
                raise UsageError(f"docker option {name} is missing its value")
            val, i = tokens[i + 1], i + 1
        opts.setdefault(name, []).append(val)
        i += 1
    if i >= len(tokens):
        raise UsageError("docker run: no image named")
    image, rest = tokens[i], tokens[i + 1:]
    for kv in opts.get("-e", []) + opts.get("--env", []):
        k, _, v = kv.partition("=")
        env[k] = v
    extra = dict(image=image, docker=tuple(tokens[:i]), env=env, gpus=_last(opts, "--gpus"),
                 shm_size=_last(opts, "--shm-size"), ipc=_last(opts, "--ipc"))
    found = _launcher(rest)
    if found:
        return _engine_spec(found[0], rest[: found[1]], rest[found[1]:], **extra)
    engine = engine_of_image(image)
    if engine is None:
        raise UsageError(f"cannot tell the engine of image {image!r} (expected vllm/vllm-openai, lmsysorg/sglang, llama.cpp:server or ollama/ollama)")
    return _engine_spec(engine, [], rest, **extra)


def _last(opts: dict[str, list[str]], name: str) -> str | None:
    return opts[name][-1] if name in opts else None


MAX_ARGS = 400  # words of one launch command; real ones have under 200 (each unknown flag costs a "did you mean")


def check_arg_count(count: int, what: str = "the launch command") -> None:
    """Refuse a command too long to be real before any work on it (a usage error naming the limit)."""
    if count > MAX_ARGS:
        raise UsageError(f"{what} has {count} words; at most {MAX_ARGS} are read (limit MAX_ARGS)")


def parse_command(argv: list[str]) -> LaunchSpec:
    """A launch command as argv: env assignments, then an engine launcher or `docker run`."""
    check_arg_count(len(argv))
    tokens, env = list(argv), {}
    while tokens and tokens[0] in ("env", "sudo", "exec", "nohup", "time"):
        tokens.pop(0)
    while tokens and _ASSIGN.match(tokens[0]):
        k, _, v = tokens.pop(0).partition("=")
        env[k] = v
    if len(tokens) >= 2 and _basename(tokens[0]) in ("docker", "podman", "nvidia-docker"):
        if tokens[1] == "run" or tokens[1:3] == ["container", "run"]:
            return _docker_run(tokens, env)
        if tokens[1] == "exec":
            return parse_command(_after_docker_exec(tokens))
    found = _launcher(tokens)
    if found is None:
        shown = " ".join(tokens[:3]) or "(empty)"
        raise UsageError(f"cannot tell the engine of {shown!r}: expected vllm serve, python -m vllm.entrypoints.openai.api_server, "
                         "python -m sglang.launch_server, llama-server, ollama run|pull, or docker run IMAGE")
    engine, used = found
    return _engine_spec(engine, tokens[:used], tokens[used:], env=env)


def _after_docker_exec(tokens: list[str]) -> list[str]:
    """`docker exec [-it] CONTAINER CMD...` -> CMD..."""
    i = 2
    while i < len(tokens) and tokens[i].startswith("-"):
        i += 2 if tokens[i] in ("-e", "--env", "-u", "--user", "-w", "--workdir") else 1
    if i + 1 >= len(tokens):
        raise UsageError("docker exec: no command named")
    return tokens[i + 1:]
