"""docker-compose files and vLLM `--config` YAML, read and written round-trip (ruamel.yaml).

    services:
      vllm:
        image: vllm/vllm-openai:latest
        command: >
          --model deepseek-ai/DeepSeek-V4-Flash
          --tensor-parallel-size 1

Writing back edits only the engine service (command, image, environment, shm_size, ipc);
comments, key order and the command's style (folded string or list) are kept.
"""

from __future__ import annotations

import functools
import io
import shlex
from dataclasses import replace
from typing import Any

from v4doctor.errors import UsageError
from v4doctor.launch.parse import _launcher, _engine_spec, check_arg_count, engine_of_image, parse_args
from v4doctor.launch.spec import Arg, LaunchSpec


def _yaml(sequence: int = 2, offset: int = 0):
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=sequence, offset=offset)
    return y


@functools.lru_cache(maxsize=32)
def _indent_of(original: str) -> tuple[int, int]:
    """The list indentation that round-trips the original unchanged (else a guess from its text)."""
    for seq, off in ((2, 0), (4, 2), (3, 1)):
        out = io.StringIO()
        _yaml(seq, off).dump(_load(original, "compose file"), out)
        if out.getvalue() == original:
            return seq, off
    return _guess_indent(original)


def _dump(doc: Any, original: str) -> str:
    """Dump with the list indentation the original uses."""
    seq, off = _indent_of(original)
    out = io.StringIO()
    _yaml(seq, off).dump(doc, out)
    return out.getvalue()


def _guess_indent(text: str) -> tuple[int, int]:
    import re

    m = re.search(r"^( *)\S[^\n]*:\s*\n( *)- ", text, re.M)
    return (4, 2) if m and len(m.group(2)) > len(m.group(1)) else (2, 0)


MAX_YAML_NODES = 100_000  # nodes after expanding aliases; a real compose file has a few hundred
MAX_SERVICES = 200


def _expanded_size(text: str) -> int:
    """How many nodes the document has once every alias is expanded, from the parser's events
    (linear in the text): an alias bomb ("billion laughs", 620 bytes) is refused before any walk."""
    from ruamel.yaml import YAML
    from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent

    sizes: dict[str, int] = {}
    stack, anchors = [0], [None]
    for ev in YAML(typ="rt").parse(text):
        if isinstance(ev, ScalarEvent):
            stack[-1] += 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, AliasEvent):
            stack[-1] += sizes.get(ev.anchor, 1)
        elif isinstance(ev, CollectionStartEvent):
            stack.append(1)
            anchors.append(ev.anchor)
        elif isinstance(ev, CollectionEndEvent) and len(stack) > 1:
            n, anchor = stack.pop(), anchors.pop()
            if anchor:
                sizes[anchor] = n
            stack[-1] += n
        if stack[-1] > MAX_YAML_NODES:
            break
    return stack[-1] if len(stack) == 1 else MAX_YAML_NODES + 1


def _load(text: str, what: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        if "*" in text and _expanded_size(text) > MAX_YAML_NODES:
            raise UsageError(f"{what} expands to more than {MAX_YAML_NODES} YAML nodes through its aliases "
                             f"(limit MAX_YAML_NODES; an alias bomb?); not read")
        return _yaml().load(text)
    except UsageError:
        raise
    except YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise UsageError(f"{what} is not valid YAML{where}: {getattr(exc, 'problem', None) or type(exc).__name__}") from None
    except Exception as exc:  # ruamel raises a few non-YAMLError types on odd input
        raise UsageError(f"{what} is not valid YAML: {type(exc).__name__}") from None


def _services(doc: Any) -> dict:
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict) or not doc["services"]:
        raise UsageError("not a docker-compose file: no 'services:' mapping at the top")
    if len(doc["services"]) > MAX_SERVICES:
        raise UsageError(f"the compose file has {len(doc['services'])} services; at most {MAX_SERVICES} are read (limit MAX_SERVICES)")
    return doc["services"]


def _command_tokens(command: Any) -> list[str]:
    if command is None:
        return []
    if isinstance(command, list):
        return [str(t) for t in command]
    try:
        return shlex.split(str(command))
    except ValueError as exc:
        raise UsageError(f"compose command cannot be split: {exc}") from None


def _engine_service(services: dict) -> tuple[str, dict, str]:
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        engine = engine_of_image(str(svc.get("image", "")))
        found = _launcher(_command_tokens(svc.get("command")))
        if engine or found:
            return str(name), svc, (found[0] if found else engine)
    raise UsageError("no engine service in this compose file (no vllm/vllm-openai, lmsysorg/sglang, llama.cpp or ollama image or command)")


def _environment(env: Any) -> dict[str, str]:
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    if isinstance(env, list):
        return {str(e).partition("=")[0]: str(e).partition("=")[2] for e in env}
    return {}


def _gpu_count(svc: dict) -> str | None:
    try:
        devices = svc["deploy"]["resources"]["reservations"]["devices"]
    except (KeyError, TypeError):
        return "all" if svc.get("runtime") == "nvidia" else None
    for d in devices if isinstance(devices, list) else []:
        if isinstance(d, dict) and ("gpu" in (d.get("capabilities") or []) or d.get("driver") == "nvidia"):
            if d.get("device_ids"):
                return str(len(d["device_ids"]))
            return str(d.get("count", "all"))
    return None


def parse_compose(text: str) -> LaunchSpec:
    """A docker-compose file: the first service whose image or command is an engine."""
    services = _services(_load(text, "compose file"))
    name, svc, engine = _engine_service(services)
    entry = _command_tokens(svc.get("entrypoint"))
    tokens = entry + _command_tokens(svc.get("command"))
    check_arg_count(len(tokens), f"service {name}'s command")
    found = _launcher(tokens)
    launcher, rest = (tokens[: found[1]], tokens[found[1]:]) if found else (entry, tokens[len(entry):])
    shm = svc.get("shm_size")
    spec = _engine_spec(found[0] if found else engine, launcher, rest, image=str(svc["image"]) if svc.get("image") else None,
                        env=_environment(svc.get("environment")), kind="compose", service=name,
                        gpus=_gpu_count(svc), shm_size=str(shm) if shm is not None else None,
                        ipc=str(svc["ipc"]) if svc.get("ipc") else None)
    # an `entrypoint:` launcher is not the command's to rewrite: argv() then gives exactly the command
    return replace(spec, launcher=tuple(launcher[len(entry):])) if entry else spec


def render_compose(text: str, spec: LaunchSpec) -> str:
    """The compose text with the engine service rewritten from `spec` (round-trip: comments kept)."""
    doc = _load(text, "compose file")
    svc = _services(doc)[spec.service]
    before = parse_compose(text)
    if spec.argv() != before.argv():
        svc["command"] = _command_like(svc.get("command"), spec)
    if spec.image != before.image and spec.image:
        svc["image"] = spec.image
    _set_if_changed(svc, "shm_size", before.shm_size, spec.shm_size)
    _set_if_changed(svc, "ipc", before.ipc, spec.ipc)
    if spec.env != before.env:
        _write_env(svc, spec.env)
    return _dump(doc, text)


def _set_if_changed(svc: dict, key: str, old: str | None, new: str | None) -> None:
    if new == old:
        return
    if new is None:
        svc.pop(key, None)
    elif key in svc:
        svc[key] = new
    else:
        _append(svc, key, new)


def _append(svc: Any, key: str, value: Any) -> None:
    """Add a key at the end of a mapping, moving the last key's trailing blank line/comment after it."""
    last = list(svc)[-1] if len(svc) else None
    svc.insert(len(svc), key, value)
    items = getattr(getattr(svc, "ca", None), "items", {})
    if last is not None and last in items:
        items[key] = items.pop(last)


def _command_like(old: Any, spec: LaunchSpec) -> Any:
    """Keep the command's style: a list stays a list; a folded string keeps one option per line."""
    from ruamel.yaml.comments import CommentedSeq
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    tokens = spec.argv()
    if isinstance(old, list):
        seq = CommentedSeq(tokens)
        seq.fa.set_flow_style() if getattr(old, "fa", None) and old.fa.flow_style() else None
        return seq
    lines = _one_option_per_line(spec)
    if isinstance(old, LiteralScalarString):
        return LiteralScalarString("\n".join(lines) + "\n")
    if isinstance(old, FoldedScalarString) or old is None:
        folded = FoldedScalarString(" ".join(lines) + "\n")
        folded.fold_pos = [sum(len(x) + 1 for x in lines[: i + 1]) - 1 for i in range(len(lines) - 1)]
        return folded
    return " ".join(shlex.quote(t) for t in tokens)


def _one_option_per_line(spec: LaunchSpec) -> list[str]:
    head = [*spec.launcher, *([spec.model] if spec.model_positional and spec.model else [])]
    lines = [" ".join(shlex.quote(t) for t in head)] if head else []
    return lines + [" ".join(shlex.quote(t) for t in a.tokens()) for a in spec.args]


def _write_env(svc: dict, env: dict[str, str]) -> None:
    current = svc.get("environment")
    if isinstance(current, list):
        svc["environment"] = [f"{k}={v}" for k, v in env.items()]
    elif isinstance(current, dict):
        for k in [k for k in current if k not in env]:
            del current[k]
        for k, v in env.items():
            current[k] = v
    else:
        _append(svc, "environment", dict(env))


# --------------------------------------------------------------------------- vLLM --config
def parse_vllm_config(text: str) -> list[Arg]:
    """vLLM `--config FILE.yaml`: `max-model-len: 131072` / `enable-prefix-caching: true` per line."""
    doc = _load(text, "vLLM config file")
    if not isinstance(doc, dict):
        raise UsageError("vLLM config file: expected a mapping of option: value")
    tokens: list[str] = []
    for key, value in doc.items():
        opt = "--" + str(key).replace("_", "-")
        if value is True:
            tokens.append(opt)
        elif value is False:
            tokens.append("--no-" + opt[2:])
        elif isinstance(value, list):
            tokens += [opt, *map(str, value)]
        elif isinstance(value, dict):
            import json

            tokens += [opt, json.dumps(value)]
        else:
            tokens += [opt, str(value)]
    return parse_args("vllm", tokens)


def with_config(spec: LaunchSpec, config_text: str) -> LaunchSpec:
    """Merge a vLLM --config file under the command line (the command line wins, as in vLLM)."""
    have = {a.name for a in spec.args}
    extra = tuple(a for a in parse_vllm_config(config_text) if a.name not in have and a.key)
    model = spec.model or next((a.values[0] for a in extra if a.key == "model" and a.values), None)
    return replace(spec, model=model, config_file=spec.flag("config"), config_args=extra)
