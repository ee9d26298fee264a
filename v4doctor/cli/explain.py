"""`v4doctor explain ID`: what a check (or troubleshooting row, or signature) looks for and why."""

from __future__ import annotations

import argparse

HELP = "explain a check id, probe finding, log signature or troubleshooting row"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a check id (V4D101), check name, or troubleshooting row id")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    print("\n".join(api.explain(args.id)["lines"]))
    return 0
