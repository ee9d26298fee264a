"""What several subcommands share: target and output options, the spinner, and printing a report."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Iterator


def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target")
    g.add_argument("--model", "-m", help="flash, pro, a repo id, or a local checkpoint path (default: flash; `v4doctor models` lists them)")
    g.add_argument("--engine", "-e", help="vllm, sglang, llamacpp, ollama or trtllm (default: vllm)")
    g.add_argument("--engine-version", help="the engine version the plan will run, e.g. 0.33.0 (default: the installed one)")
    g.add_argument("--cmd", help='the planned launch command, e.g. "vllm serve deepseek-ai/DeepSeek-V4-Flash ..."')
    g.add_argument("--compose", metavar="FILE", help="the planned docker-compose file")
    g.add_argument("--path", action="append", default=[], metavar="DIR", help="where the weights will live (free disk is checked there); repeatable")


def add_output_options(p: argparse.ArgumentParser, verbose_help: str = "show passing checks, evidence and sources") -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print only JSON on stdout")
    g.add_argument("--format", choices=("text", "json", "markdown"), default=None, help="output format (default: text)")
    g.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    g.add_argument("-q", "--quiet", action="store_true", help="print only errors and the summary line")
    g.add_argument("--no-color", action="store_true", help="no colours (also: the NO_COLOR environment variable)")


def output_format(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else (args.format or "text")


def use_color(args: argparse.Namespace) -> bool | None:
    """False when --no-color or NO_COLOR (any non-empty value, no-color.org) says so; else rich decides."""
    if getattr(args, "no_color", False) or os.environ.get("NO_COLOR"):
        return False
    return None


@contextlib.contextmanager
def spinner(args: argparse.Namespace, text: str, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A status line with a spinner on standard error while slow work runs; off when stderr is not a
    terminal, with --json or -q. Yields a function that updates the text."""
    if not enabled or not sys.stderr.isatty() or getattr(args, "json", False) or getattr(args, "quiet", False):
        yield lambda _text: None
        return
    from rich.console import Console

    console = Console(file=sys.stderr, no_color=use_color(args) is False, highlight=False)
    with console.status(text, spinner="dots") as status:
        yield lambda new: status.update(f"v4doctor: {new}")


def emit(report, args: argparse.Namespace, extra: dict | None = None, head: list[tuple[str, str]] = ()) -> None:
    """Print a report as JSON (with `extra` keys), Markdown, or terminal text (after `head` lines)."""
    from v4doctor.output import render

    data = {**report.to_dict(), **(extra or {})}
    fmt = output_format(args)
    if fmt == "json":
        print(render.to_json(data))
    elif fmt == "markdown":
        print(render.markdown(data, report.findings), end="")
    else:
        lines = render.terminal_lines(data, report.findings, args.verbose, quiet=getattr(args, "quiet", False))
        render.print_terminal(list(head) + lines, color=use_color(args))


def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def print_listing(args: argparse.Namespace, data: dict, lines: list[str]) -> int:
    """A catalogue command's answer: the JSON object with --json, else one line per entry."""
    if getattr(args, "json", False):
        from v4doctor.output.render import to_json

        print(to_json(data))
    else:
        print("\n".join(lines))
    return 0
