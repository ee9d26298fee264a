"""The command line. `main()` is the one error boundary: every exception becomes one
line on stderr and an exit status (0 ok, 1 problems found, 2 usage or internal error)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from typing import Sequence

from v4doctor import __version__
from v4doctor.cli.commands import COMMANDS
from v4doctor.errors import ExitStatus, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors: one line, exit 2
        raise UsageError(message)


def _command_module(name: str):
    module = f"v4doctor.cli.{COMMANDS[name]}"
    return importlib.import_module(module) if importlib.util.find_spec(module) else None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="v4doctor", description="The DeepSeek V4 deployment doctor: check a host before deploying, diagnose a failed deploy from its log, fix a launch plan.")
    parser.add_argument("--version", action="version", version=f"v4doctor {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        mod = _command_module(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("V4DOCTOR_DEBUG"))
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "_module", None):
            build_parser().print_help()
            return ExitStatus.USAGE
        return int(args._module.run(args))
    except UsageError as exc:
        return _fail(str(exc))
    except ValueError as exc:
        if type(exc).__name__ in ("UnknownModelError",):
            return _fail(str(exc))
        return _internal(exc, debug)
    except KeyboardInterrupt:
        return _fail("interrupted")
    except BrokenPipeError:
        sys.stderr.close()
        return ExitStatus.OK
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else ExitStatus.USAGE
    except Exception as exc:
        return _internal(exc, debug)


def _fail(message: str) -> int:
    from v4doctor.output.redact import redact_text

    print(f"v4doctor: error: {redact_text(message)}", file=sys.stderr)
    return ExitStatus.USAGE


def _internal(exc: BaseException, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    return _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
