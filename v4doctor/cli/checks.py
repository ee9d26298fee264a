"""`v4doctor checks`: list every registered check."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_json_option, print_listing

HELP = "list every check (id, category, title)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_json_option(p)


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    data = api.checks()
    lines = [f"{r['id']}  {r['category']:<8} {r['name']:<36} {r['title']}" for r in data["checks"]]
    lines += [f"{f['id']}  plugin   {f['title']}: {f['detail']}" for f in data["load_errors"]]
    return print_listing(args, data, lines)
