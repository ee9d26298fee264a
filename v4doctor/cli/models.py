"""`v4doctor models`: the checkpoints v4doctor knows (what --model accepts)."""

from __future__ import annotations

import argparse

HELP = "list the DeepSeek V4 checkpoints v4doctor knows (what --model accepts)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    data = api.models()
    if args.json:
        from v4doctor.output.render import to_json

        print(to_json(data))
        return 0
    for m in data["models"]:
        size = f"{m['bytes_on_disk'] / (1 << 30):,.1f} GiB" if isinstance(m.get("bytes_on_disk"), (int, float)) else "size unknown"
        aliases = f"  (also: {', '.join(m['aliases'])})" if m.get("aliases") else ""
        print(f"{m['repo']}  {m.get('format') or ''}  {size}{aliases}")
    return 0
