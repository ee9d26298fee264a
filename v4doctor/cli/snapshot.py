"""`v4doctor snapshot`: write every fact about this host as JSON (redacted)."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_target_options

HELP = "write all facts about this host as JSON (redacted), to replay with `run --facts`"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor.collect import gather
    from v4doctor.collect.target import build_target
    from v4doctor.facts import facts_to_json
    from v4doctor.output.render import to_json

    facts = gather(build_target(args.model, args.engine, args.cmd, args.compose, args.engine_version), args.path)
    text = to_json(facts_to_json(facts)) + "\n"
    if args.output:
        from v4doctor.output.writer import write_new

        write_new(args.output, text)
    else:
        print(text, end="")
    return 0
