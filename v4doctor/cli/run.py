"""`v4doctor run`: judge this host (or a snapshot) against the planned deploy."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_output_options, add_target_options, emit, spinner

HELP = "check this host (or a facts snapshot) before deploying DeepSeek V4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_options(p)
    p.add_argument("--facts", metavar="FILE", help="judge a snapshot from `v4doctor snapshot` instead of this host")
    p.add_argument("--select", action="append", default=None, metavar="ID", help="run only these check ids, id prefixes or categories (comma-separated, repeatable)")
    p.add_argument("--ignore", action="append", default=None, metavar="ID", help="skip these check ids, id prefixes or categories")
    p.add_argument("--fail-on", choices=("error", "warning"), default=None, help="exit 1 on findings of this level or worse (default: error)")
    add_output_options(p)


def split_list(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.config import load_settings

    settings = load_settings()
    with spinner(args, "v4doctor: reading this host", enabled=not args.facts) as progress:
        report = api.run(
            facts_path=args.facts, model=args.model or settings.get("model"), engine=args.engine or settings.get("engine"),
            engine_version=args.engine_version, cmd=args.cmd, compose_path=args.compose, paths=args.path,
            select=split_list(args.select) or settings.get("select", []), ignore=split_list(args.ignore) or settings.get("ignore", []),
            progress=progress,
        )
    emit(report, args)
    return report.exit_code(args.fail_on or settings.get("fail-on", "error"))
