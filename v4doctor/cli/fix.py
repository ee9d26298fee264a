"""`v4doctor fix`: findings on a launch plan and the corrected plan as a unified diff."""

from __future__ import annotations

import argparse

HELP = "propose a corrected launch command or compose file (diff; --write applies it)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--cmd", help='the launch command (quote it), e.g. "vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8"')
    src.add_argument("--compose", metavar="FILE", help="a docker-compose file")
    p.add_argument("--facts", metavar="FILE", help="judge against this host snapshot (`v4doctor snapshot`); without it, GPU and memory checks are skipped")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="apply the fix to --compose FILE (in place, keeps a numbered backup FILE.bak, FILE.bak.1 ...)")
    mode.add_argument("--check", action="store_true", help="exit 1 when a fix is pending, print nothing else")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")
    p.add_argument("--no-color", action="store_true", help="no colours (also: the NO_COLOR environment variable)")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.errors import UsageError
    from v4doctor.output import render

    if args.write and not args.compose:
        raise UsageError("--write needs --compose FILE (for --cmd the corrected command is printed)")
    plan = api.read_plan(cmd=args.cmd, compose_path=args.compose)
    facts = api.load_facts(args.facts) if args.facts else None
    result = api.fix(plan.text, plan.kind, facts, plan.config)
    backup = api.write_fix(args.compose, result, plan.text) if args.write and result.changed else None
    if args.json:
        print(render.to_json({"schema_version": 1, "written": backup is not None, "backup": backup, **result.to_dict()}))
    elif not args.check:
        _print(result, args, backup)
    if args.check:
        return 1 if result.changed else 0
    return 0


def _print(result, args, backup) -> None:
    from rich.console import Console

    from v4doctor.cli._common import use_color
    from v4doctor.output import render

    console = Console(highlight=False, soft_wrap=True, no_color=use_color(args) is False)
    for f in result.findings:
        mark = render.SYMBOL[f.severity]
        console.print(f"[{render.STYLE[f.severity]}]{mark} {f.id}[/] {result.shown(f.title)}", markup=True)
        if f.fix and f.fix.text and f.severity.value != "info":
            console.print(f"    fix: {result.shown(f.fix.text)}", markup=False)
    if not result.changed:
        blocking = [f for f in result.findings if f.severity.value in ("error", "warning")]
        console.print("no automatic fix for these findings (see the fixes above)" if blocking else "nothing to fix", markup=False)
        for note in result.notes:
            console.print(f"note: {result.shown(note)}", markup=False)
        return
    print(result.shown(result.diff), end="")
    if result.kind == "cmd":
        print("\ncorrected command:")
        print(result.shown(result.after), end="")
    elif backup:
        console.print(f"\nwrote {args.compose} (the original is kept as {backup})", markup=False)
    for f in result.remaining:
        console.print(f"still: {f.id} {result.shown(f.title)}", markup=False)
    for note in result.notes:
        console.print(f"note: {result.shown(note)}", markup=False)
