"""`v4doctor explain ID`: what a check (or troubleshooting row, or signature) looks for and why."""

from __future__ import annotations

import argparse

HELP = "explain a check id, troubleshooting row or log signature"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a check id (V4D101), check name, or troubleshooting row id")


def run(args: argparse.Namespace) -> int:
    from v4doctor.doctor import registry
    from v4doctor.errors import UsageError
    from v4doctor.kb import load

    c = registry().by_id(args.id)
    if c is not None:
        print(f"{c.id} {c.name} ({c.category})\n{c.title}\n\n{c.doc}")
        if c.troubleshooting:
            print(f"\ntroubleshooting row: {c.troubleshooting}")
        for s in c.sources:
            print(f"source: {s}")
        return 0
    row = load().row(args.id)
    if row is not None:
        print(f"{row['id']}: {row['symptom']}\n\ncause: {row['cause']}\nfix: {row['fix']}")
        for s in row.get("sources", []):
            print(f"source: {s}")
        return 0
    raise UsageError(f"no check or troubleshooting row called {args.id!r} (`v4doctor checks` lists them)")
