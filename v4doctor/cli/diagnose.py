"""`v4doctor diagnose`: the root cause and the fix from a pasted engine log."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import output_format, use_color

HELP = "diagnose a failed, slow or garbled deploy from its log (vLLM, SGLang, llama.cpp, Ollama, Docker)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE", help="the log file; `-` or nothing reads standard input")
    p.add_argument("--text", help="the log itself, as a string")
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print only JSON on stdout")
    g.add_argument("--format", choices=("text", "json", "markdown"), default=None, help="output format (default: text)")
    g.add_argument("-v", "--verbose", action="store_true", help="show every evidence line")
    g.add_argument("--no-color", action="store_true", help="no colours (also: the NO_COLOR environment variable)")


def _diagnose(args: argparse.Namespace):
    import sys

    from v4doctor import api
    from v4doctor.errors import UsageError

    if args.text is not None and args.file is not None:
        raise UsageError("give either FILE or --text, not both")
    if args.text is not None:
        diagnosis = api.diagnose(args.text)
        if diagnosis.lines == 0:
            raise UsageError("the log is empty: nothing to diagnose")
        return diagnosis
    from v4doctor.cli._common import spinner

    if args.file in (None, "-"):
        if args.file is None and sys.stdin.isatty():
            raise UsageError("no log given: pass a FILE, `-` with a pipe, or --text")
        with spinner(args, "v4doctor: reading the log"):
            return api.diagnose_file(stream=sys.stdin)
    with spinner(args, "v4doctor: reading the log"):
        return api.diagnose_file(args.file)


def run(args: argparse.Namespace) -> int:
    from v4doctor.output import diagnosis as report
    from v4doctor.output import render

    data = _diagnose(args).to_dict()
    fmt = output_format(args)
    if fmt == "json":
        print(render.to_json(data))
    elif fmt == "markdown":
        print(report.markdown(data), end="")
    else:
        render.print_terminal(report.terminal_lines(data, args.verbose), color=use_color(args))
    return 0 if data["healthy"] else 1
