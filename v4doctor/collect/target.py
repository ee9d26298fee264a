"""Build TargetFacts from the command line: model, engine, launch command or compose file."""

from __future__ import annotations

from pathlib import Path

from v4doctor.errors import UsageError
from v4doctor.facts import TargetFacts, Unknown
from v4doctor.facts.target import DEFAULT_ENGINE, DEFAULT_MODEL, ENGINES
from v4doctor.launch.spec import split_command  # noqa: F401  (pure; kept importable here)

MAX_COMPOSE_BYTES = 1 << 20


def build_target(
    model: str | None = None,
    engine: str | None = None,
    cmd: str | None = None,
    compose: str | None = None,
    engine_version: str | None = None,
) -> TargetFacts:
    given_engine, given_model = engine, model
    engine = (engine or DEFAULT_ENGINE).lower().replace(".", "").replace("-", "")
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    target = TargetFacts(model=model or DEFAULT_MODEL, engine=engine)
    if engine_version:
        target.engine_version = engine_version
    if cmd is not None:
        target.cmd = split_command(cmd)
    if compose is not None:
        target.compose_path, target.compose_text = compose, read_compose(compose)
    _adopt_launch(target, given_engine is None, given_model is None)
    _read_local_model(target)
    return target


def _adopt_launch(target: TargetFacts, engine_free: bool, model_free: bool) -> None:
    """Parse the launch plan now (bad input is a usage error, exit 2); without --engine/--model, take
    the plan's engine and (when the knowledge base knows it) its model."""
    from v4doctor.facts import known
    from v4doctor.knowledge.kb import load
    from v4doctor.launch import parse_command, parse_compose

    if known(target.cmd):
        spec = parse_command(target.cmd)
    elif known(target.compose_text):
        spec = parse_compose(target.compose_text)
    else:
        return
    if engine_free:
        target.engine = spec.engine
    if model_free and spec.model and load().find_model(spec.model):
        target.model = spec.model


def read_compose(path: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_COMPOSE_BYTES:
            raise UsageError(f"{path}: larger than {MAX_COMPOSE_BYTES} bytes; not a compose file")
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file") from None
    except OSError as exc:
        raise UsageError(f"cannot read compose file {path}: {exc.strerror or exc}") from None


def _read_local_model(target: TargetFacts) -> None:
    """A local checkpoint directory: keep its path and its config.json."""
    p = Path(target.model).expanduser()
    if not (p.is_absolute() or target.model.startswith(".")) and not p.exists():
        return  # a repo id or an alias, not a path
    if not p.exists():
        raise UsageError(f"model path {target.model} does not exist")
    target.local_path = str(p.resolve())
    config = p / "config.json" if p.is_dir() else None
    if config is None or not config.is_file():
        target.config = Unknown(f"no config.json in {p}")
        return
    from v4doctor.collect.checkpoint import read_config

    target.config = read_config(config)


def read_vllm_config(text: str, kind: str) -> str | None:
    """The vLLM `--config FILE.yaml` a plan names, read when the file is here (else None)."""
    from v4doctor.launch import parse_compose, parse_text

    spec = parse_compose(text) if kind == "compose" else parse_text(text)
    name = spec.flag("config") if spec.engine == "vllm" else None
    if not isinstance(name, str) or not Path(name).is_file():
        return None
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read vLLM config {name}: {exc}") from None
