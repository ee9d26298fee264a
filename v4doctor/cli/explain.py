"""`v4doctor explain ID`: what a check (or troubleshooting row, or signature) looks for and why."""

from __future__ import annotations

import argparse

HELP = "explain a check id, probe finding, log signature or troubleshooting row"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="a check id (V4D101), check name, or troubleshooting row id")


def run(args: argparse.Namespace) -> int:
    from v4doctor.judge.doctor import registry
    from v4doctor.errors import UsageError
    from v4doctor.knowledge.kb import load

    c = registry().by_id(args.id)
    if c is not None:
        print(f"{c.id} {c.name} ({c.category})\n{c.title}\n\n{c.doc}")
        if c.troubleshooting:
            print(f"\ntroubleshooting row: {c.troubleshooting}")
        for s in c.sources:
            print(f"source: {s}")
        return 0
    if _explain_other(args.id):
        return 0
    row = load().row(args.id)
    if row is not None:
        print(f"{row['id']}: {row['symptom']}\n\ncause: {row['cause']}\nfix: {row['fix']}")
        if row.get("guide_says"):
            print(f"the guide says: {row['guide_says']}")
        for label, key in (("detected by", "detectors"), ("fixed by", "fixers")):
            if row.get(key):
                print(f"{label}: {', '.join(row[key])}")
        for s in row.get("sources", []):
            print(f"source: {s}")
        return 0
    raise UsageError(f"no check, probe finding, log signature or troubleshooting row called {args.id!r} (`v4doctor checks` lists the checks)")


def _explain_other(ref: str) -> bool:
    """A log signature (SIG-…) or a `v4doctor probe` finding (V4D55x)."""
    from v4doctor.knowledge.kb import load

    sig = next((s for s in load().records("signature") if s["id"].lower() == ref.lower()), None)
    if sig is not None:
        print(f"{sig['id']} ({sig['category']}, {', '.join(sig.get('engines', []))})\n{sig['title']}\n")
        print(f"matches: {sig['regex']}\ncause: {sig['cause']}\nfix: {sig['fix']}")
        print(f"troubleshooting row: {sig.get('troubleshooting')}")
        for s in sig.get("sources", []):
            print(f"source: {s}")
        return True
    from v4doctor.probe.endpoint import FINDINGS as PROBE_FINDINGS

    probe = PROBE_FINDINGS.get(ref.upper())
    if probe is None:
        return False
    name, title, row = probe
    print(f"{ref.upper()} {name} (endpoint; reported by `v4doctor probe`)\n{title}")
    if row:
        print(f"\ntroubleshooting row: {row}")
    return True
