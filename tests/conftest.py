"""Shared test helpers: repo paths, an in-process CLI runner, fixture loaders."""

from __future__ import annotations

import io
import json
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
HOSTS = FIXTURES / "hosts"
LOGS = FIXTURES / "logs"
GUIDE = ROOT / "fixtures" / "guide" / "deepseek-v4-deployment-guide.md"  # a copy of the public guide (fixtures/guide/SOURCE.md)
VLLM_033_HELP = ROOT / "fixtures" / "engines" / "vllm-0.33.0-serve-help-all.txt"  # `vllm serve --help=all` (fixtures/engines/SOURCE.md)


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run_cli(*argv: str, stdin: str | None = None) -> CliResult:
    """Run the CLI in-process (the same main() as the console script)."""
    from v4doctor.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
    finally:
        sys.stdin = old_stdin
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


def load_host(name: str):
    from v4doctor.facts import facts_from_json

    return facts_from_json(json.loads((HOSTS / name).read_text()))
