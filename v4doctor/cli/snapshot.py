"""`v4doctor snapshot`: write every fact about this host as JSON (redacted)."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_target_options, spinner

HELP = "write all facts about this host as JSON (redacted), to replay with `run --facts`"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_target_options(p)
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    from v4doctor.cli.run import add_ray_options

    add_ray_options(p, "write every node's facts of the Ray cluster at ADDRESS (a fleet snapshot, judged by `run --facts`)")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.output.render import to_json

    target = dict(model=args.model, engine=args.engine, engine_version=args.engine_version, cmd=args.cmd,
                  compose_path=args.compose, paths=args.path)
    if args.ray:
        with spinner(args, f"v4doctor: reading the Ray cluster at {args.ray}"):
            data = api.snapshot_fleet(args.ray, timeout_s=args.ray_timeout, **target)
    else:
        with spinner(args, "v4doctor: reading this host") as progress:
            data = api.snapshot(progress=progress, **target)
    text = to_json(data) + "\n"
    if args.output:
        from v4doctor.output.writer import write_new

        write_new(args.output, text)
    else:
        print(text, end="")
    return 0
