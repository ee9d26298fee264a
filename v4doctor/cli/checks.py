"""`v4doctor checks`: list every registered check."""

from __future__ import annotations

import argparse

HELP = "list every check (id, category, title)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    data = api.checks()
    if args.json:
        from v4doctor.output.render import to_json

        print(to_json(data))
        return 0
    for r in data["checks"]:
        print(f"{r['id']}  {r['category']:<8} {r['name']:<36} {r['title']}")
    for f in data["load_errors"]:
        print(f"{f['id']}  plugin   {f['title']}: {f['detail']}")
    return 0
