"""`v4doctor diagnose`: the root cause and the fix from a pasted engine log."""

from __future__ import annotations

import argparse

HELP = "diagnose a failed, slow or garbled deploy from its log (vLLM, SGLang, llama.cpp, Ollama, Docker)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", nargs="?", metavar="FILE", help="the log file; `-` or nothing reads standard input")
    p.add_argument("--text", help="the log itself, as a string")
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print only JSON on stdout")
    g.add_argument("--format", choices=("text", "json", "markdown"), default=None, help="output format (default: text)")
    g.add_argument("-v", "--verbose", action="store_true", help="show every evidence line")


def _diagnose(args: argparse.Namespace):
    import sys

    from v4doctor.errors import UsageError
    from v4doctor.logs import diagnose_file, diagnose_stream, diagnose_text

    if args.text is not None and args.file not in (None,):
        raise UsageError("give either FILE or --text, not both")
    if args.text is not None:
        return diagnose_text(args.text)
    if args.file in (None, "-"):
        if args.file is None and sys.stdin.isatty():
            raise UsageError("no log given: pass a FILE, `-` with a pipe, or --text")
        buffer = getattr(sys.stdin, "buffer", None)
        return diagnose_file(buffer) if buffer is not None else diagnose_stream(sys.stdin)
    try:
        with open(args.file, "rb") as fh:
            return diagnose_file(fh)
    except IsADirectoryError:
        raise UsageError(f"{args.file} is a directory, not a log file") from None
    except OSError as exc:
        raise UsageError(f"cannot read log {args.file}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    from v4doctor.output import render
    from v4doctor.cli._common import output_format
    from v4doctor.logs import report

    from v4doctor.errors import UsageError

    diagnosis = _diagnose(args)
    if diagnosis.lines == 0:
        raise UsageError("the log is empty: nothing to diagnose")
    data = diagnosis.to_dict()
    fmt = output_format(args)
    if fmt == "json":
        print(render.to_json(data))
    elif fmt == "markdown":
        print(report.markdown(data), end="")
    else:
        render.print_terminal(report.terminal_lines(data, args.verbose))
    return 0 if data["healthy"] else 1
