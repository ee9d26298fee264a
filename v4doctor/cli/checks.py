"""`v4doctor checks`: list every registered check."""

from __future__ import annotations

import argparse

HELP = "list every check (id, category, title)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor.judge.doctor import registry

    reg = registry()
    rows = [{"id": c.id, "name": c.name, "category": c.category, "title": c.title, "module": c.module} for c in reg.checks]
    if args.json:
        from v4doctor.output.render import to_json

        print(to_json({"schema_version": 1, "checks": rows, "load_errors": [f.to_dict() for f in reg.load_errors]}))
        return 0
    for r in rows:
        print(f"{r['id']}  {r['category']:<8} {r['name']:<36} {r['title']}")
    for f in reg.load_errors:
        print(f"{f.id}  plugin   {f.title}: {f.detail}")
    return 0
