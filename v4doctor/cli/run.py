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
    add_ray_options(p, "check every node of the Ray cluster at ADDRESS (host:port, or auto) instead of this host")
    add_output_options(p)


def add_ray_options(p: argparse.ArgumentParser, help: str) -> None:
    g = p.add_argument_group("fleet (pip install 'v4doctor[ray]')")
    g.add_argument("--ray", metavar="ADDRESS", help=help)
    g.add_argument("--ray-timeout", type=float, default=60.0, metavar="S", help="seconds to wait for the nodes to answer (default: 60)")


def split_list(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.config import load_settings

    settings = load_settings()
    if args.ray or (args.facts and _is_fleet_file(args.facts)):
        return _run_fleet(args, settings)
    with spinner(args, "v4doctor: reading this host", enabled=not args.facts) as progress:
        report = api.run(
            facts_path=args.facts, model=args.model or settings.get("model"), engine=args.engine or settings.get("engine"),
            engine_version=args.engine_version, cmd=args.cmd, compose_path=args.compose, paths=args.path,
            select=split_list(args.select) or settings.get("select", []), ignore=split_list(args.ignore) or settings.get("ignore", []),
            progress=progress,
        )
    emit(report, args)
    return report.exit_code(args.fail_on or settings.get("fail-on", "error"))


def _is_fleet_file(path: str) -> bool:
    """A `snapshot --ray` file (its top has "cluster" and "nodes"); read by `run --facts` as a fleet."""
    import json

    from v4doctor import api

    try:
        with open(path, encoding="utf-8") as fh:
            return api.is_fleet_snapshot(json.load(fh))
    except (OSError, ValueError):
        return False  # the one-host path reports the bad file


def _run_fleet(args: argparse.Namespace, settings: dict) -> int:
    """`run --ray ADDRESS` (or `run --facts fleet.json`): every node, then the checks across nodes."""
    from v4doctor import api

    with spinner(args, f"v4doctor: reading the Ray cluster at {args.ray}", enabled=bool(args.ray)):
        report = api.run_fleet(
            args.ray, facts_path=None if args.ray else args.facts, model=args.model or settings.get("model"),
            engine=args.engine or settings.get("engine"), engine_version=args.engine_version, cmd=args.cmd,
            compose_path=args.compose, paths=args.path, timeout_s=args.ray_timeout,
            select=split_list(args.select) or settings.get("select", []), ignore=split_list(args.ignore) or settings.get("ignore", []),
        )
    emit_fleet(report, args)
    return report.exit_code(args.fail_on or settings.get("fail-on", "error"))


def emit_fleet(report, args: argparse.Namespace) -> None:
    """A fleet report as JSON, Markdown (the fleet findings) or terminal lines."""
    from v4doctor.cli._common import output_format, use_color
    from v4doctor.output import render
    from v4doctor.output.fleet import fleet_lines, fleet_markdown

    data, fmt = report.to_dict(), output_format(args)
    nodes = {nid: r.findings for nid, r in report.node_reports.items()}
    if fmt == "json":
        print(render.to_json(data))
    elif fmt == "markdown":
        print(fleet_markdown(data, report.findings, nodes), end="")
    else:
        render.print_terminal(fleet_lines(data, report.findings, nodes, args.verbose, quiet=getattr(args, "quiet", False)),
                              color=use_color(args))

