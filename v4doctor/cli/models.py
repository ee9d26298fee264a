"""`v4doctor models`: the checkpoints v4doctor knows (what --model accepts)."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_json_option, print_listing

HELP = "list the DeepSeek V4 checkpoints v4doctor knows (what --model accepts)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_json_option(p)


def _line(m: dict) -> str:
    size = f"{m['bytes_on_disk'] / (1 << 30):,.1f} GiB" if isinstance(m.get("bytes_on_disk"), (int, float)) else "size unknown"
    aliases = f"  (also: {', '.join(m['aliases'])})" if m.get("aliases") else ""
    return f"{m['repo']}  {m.get('format') or ''}  {size}{aliases}"


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    data = api.models()
    return print_listing(args, data, [_line(m) for m in data["models"]])
