"""Run inside an environment that has the real vLLM (not the test suite's): parse `vllm serve` command lines
with vLLM's own CLI parser, as `vllm` itself builds it (vllm/entrypoints/cli/main.py), and validate them.

    echo '["vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8"]' | /work/venv-vllm/bin/python tests/vllm_parser_probe.py
    -> [{"command": "...", "ok": true, "error": null}]

Nothing is loaded or served: only argparse and `validate_parsed_serve_args`. On a machine without a GPU vLLM cannot
infer its platform while it builds the parser's defaults, so the probe sets VLLM_TARGET_DEVICE=cpu unless it is set;
the flags and their choices come from the same config classes and registries on every platform.
"""

import contextlib
import io
import json
import shlex
import sys


def parser():
    from vllm.entrypoints.cli import serve
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    commands = {}
    for cmd in serve.cmd_init():
        cmd.subparser_init(subparsers).set_defaults(dispatch_function=cmd.cmd)
        commands[cmd.name] = cmd
    return top, commands


def check(top, commands, command: str) -> dict:
    argv = shlex.split(command)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = top.parse_args(argv[1:])
        commands[args.subparser].validate(args)
        return {"command": command, "ok": True, "error": None}
    except SystemExit:
        return {"command": command, "ok": False, "error": err.getvalue().strip().splitlines()[-1:]}
    except Exception as exc:  # validate_parsed_serve_args raises TypeError/ValueError on a bad combination
        return {"command": command, "ok": False, "error": f"{type(exc).__name__}: {exc}"}


if __name__ == "__main__":
    import os

    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    import vllm

    top, commands = parser()
    out = {"vllm": vllm.__version__, "results": [check(top, commands, c) for c in json.load(sys.stdin)]}
    print(json.dumps(out))
