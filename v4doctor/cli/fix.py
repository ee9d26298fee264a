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
    mode.add_argument("--write", action="store_true", help="apply the fix to --compose FILE (atomic, keeps FILE.bak)")
    mode.add_argument("--check", action="store_true", help="exit 1 when a fix is pending, print nothing else")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def _read(args):
    from v4doctor.collect.target import read_compose
    from v4doctor.errors import UsageError

    if args.compose:
        return read_compose(args.compose), "compose"
    if args.write:
        raise UsageError("--write needs --compose FILE (for --cmd the corrected command is printed)")
    return args.cmd, "cmd"


def config_text(text: str, kind: str) -> str | None:
    """The vLLM `--config FILE.yaml` a command names, read when the file is here (else None)."""
    from pathlib import Path

    from v4doctor.errors import UsageError
    from v4doctor.launch import parse_compose, parse_text

    spec = parse_compose(text) if kind == "compose" else parse_text(text)
    name = spec.flag("config") if spec.engine == "vllm" else None
    if not isinstance(name, str) or not Path(name).is_file():
        return None
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read vLLM config {name}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from v4doctor.output import render
    from v4doctor.repair.propose import propose
    from v4doctor.output.writer import digest, replace_file

    text, kind = _read(args)
    facts = None
    if args.facts:
        from v4doctor.judge.doctor import load_facts

        facts = load_facts(args.facts)
    result = propose(text, kind, facts, config_text(text, kind))
    if args.write and result.changed:
        replace_file(args.compose, result.after, digest(text))
    if args.json:
        print(render.to_json({"schema_version": 1, "written": bool(args.write and result.changed), **result.to_dict()}))
    elif not args.check:
        _print(result, args)
    if args.check:
        return 1 if result.changed else 0
    return 0


def _print(result, args) -> None:
    from rich.console import Console

    from v4doctor.output import render
    from v4doctor.judge.findings import Severity

    console = Console(highlight=False, soft_wrap=True)
    for f in result.findings:
        mark = render.SYMBOL[f.severity]
        console.print(f"[{render.STYLE[f.severity]}]{mark} {f.id}[/] {render.redact_text(f.title)}", markup=True)
        if f.fix and f.fix.text and f.severity is not Severity.INFO:
            console.print(f"    fix: {render.redact_text(f.fix.text)}", markup=False)
    if not result.changed:
        blocking = [f for f in result.findings if f.severity in (Severity.ERROR, Severity.WARNING)]
        console.print("no automatic fix for these findings (see the fixes above)" if blocking else "nothing to fix", markup=False)
        for note in result.notes:
            console.print(f"note: {note}", markup=False)
        return
    print(render.redact_text(result.diff), end="")
    if result.kind == "cmd":
        print("\ncorrected command:")
        print(render.redact_text(result.after), end="")
    elif args.write:
        console.print(f"\nwrote {args.compose} (backup: {args.compose}.bak)", markup=False)
    for f in result.remaining:
        console.print(f"still: {f.id} {render.redact_text(f.title)}", markup=False)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
