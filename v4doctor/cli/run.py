"""`v4doctor run`: judge this host (or a snapshot) against the planned deploy."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_output_options, add_target_options, output_format

HELP = "check this host (or a facts snapshot) before deploying DeepSeek V4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_options(p)
    p.add_argument("--facts", metavar="FILE", help="judge a snapshot from `v4doctor snapshot` instead of this host")
    p.add_argument("--select", action="append", default=None, metavar="ID", help="run only these check ids, id prefixes or categories (comma-separated, repeatable)")
    p.add_argument("--ignore", action="append", default=None, metavar="ID", help="skip these check ids, id prefixes or categories")
    p.add_argument("--fail-on", choices=("error", "warning"), default=None, help="exit 1 on findings of this level or worse (default: error)")
    add_output_options(p)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def facts_for(args: argparse.Namespace):
    """Facts from --facts (with --model/--engine/--cmd overriding its target), else from this host."""
    from v4doctor.collect.target import build_target

    if args.facts:
        from v4doctor.judge.doctor import load_facts

        facts = load_facts(args.facts)
        if any((args.model, args.engine, args.cmd, args.compose, args.engine_version)):
            plan = args.cmd is not None or args.compose is not None  # a launch plan names its own model and engine
            facts.target = build_target(
                args.model or (None if plan else facts.target.model), args.engine or (None if plan else facts.target.engine),
                args.cmd, args.compose, args.engine_version,
            )
        facts.source = "snapshot"
        return facts
    from v4doctor.collect import gather

    target = build_target(args.model, args.engine, args.cmd, args.compose, args.engine_version)
    return gather(target, args.path)


def require_known_model(target, kb) -> None:
    """An unknown model id is a usage error (exit 2), not a finding."""
    from v4doctor.facts import known

    if target.engine == "ollama" and not known(target.local_path):
        from v4doctor.weights.files import ollama_manifest

        if ollama_manifest(target.model) is not None:
            return  # a local Ollama model name: its GGUF is judged by the gguf checks
    if not known(target.local_path):
        kb.model(target.model)  # raises UnknownModelError, a usage error


def run(args: argparse.Namespace) -> int:
    from v4doctor.config import load_settings
    from v4doctor.judge.doctor import judge
    from v4doctor.knowledge.kb import load

    settings = load_settings()
    if args.model is None and settings.get("model"):
        args.model = settings["model"]
    if args.engine is None and settings.get("engine"):
        args.engine = settings["engine"]
    facts = facts_for(args)
    require_known_model(facts.target, load())
    select = _split(args.select) or settings.get("select", [])
    ignore = _split(args.ignore) or settings.get("ignore", [])
    report = judge(facts, select, ignore)
    emit(report, output_format(args), args.verbose)
    return report.exit_code(args.fail_on or settings.get("fail-on", "error"))


def emit(report, fmt: str, verbose: bool, extra: dict | None = None, head: list[tuple[str, str]] = ()) -> None:
    """Print a report as JSON (with `extra` keys), Markdown, or terminal text (after `head` lines)."""
    from v4doctor.output import render

    data = {**report.to_dict(), **(extra or {})}
    if fmt == "json":
        print(render.to_json(data))
    elif fmt == "markdown":
        print(render.markdown(data, report.findings), end="")
    else:
        render.print_terminal(list(head) + render.terminal_lines(data, report.findings, verbose))
