"""What a check id, log signature, endpoint-probe finding or troubleshooting row is, as lines of text."""

from __future__ import annotations

from typing import Any

from v4doctor.judge.findings import public_sources


def explain(ref: str) -> dict[str, Any] | None:
    """{"kind", "id", "lines"} for the first thing called `ref`, or None."""
    for finder in (_check, _signature, _probe_finding, _row):
        found = finder(ref)
        if found is not None:
            return found
    return None


def _check(ref: str) -> dict[str, Any] | None:
    from v4doctor.judge.doctor import registry

    c = registry().by_id(ref)
    if c is None:
        return None
    lines = [f"{c.id} {c.name} ({c.category})", c.title, "", c.doc]
    if c.troubleshooting:
        lines += ["", f"troubleshooting row: {c.troubleshooting}"]
    lines += [f"source: {s}" for s in public_sources(c.sources)]
    return {"kind": "check", "id": c.id, "lines": lines}


def _signature(ref: str) -> dict[str, Any] | None:
    from v4doctor.knowledge.kb import load

    sig = next((s for s in load().records("signature") if s["id"].lower() == ref.lower()), None)
    if sig is None:
        return None
    lines = [f"{sig['id']} ({sig['category']}, {', '.join(sig.get('engines', []))})", sig["title"], "",
             f"matches: {sig['regex']}", f"cause: {sig['cause']}", f"fix: {sig['fix']}",
             f"troubleshooting row: {sig.get('troubleshooting')}"]
    lines += [f"source: {s}" for s in public_sources(sig.get("sources", []))]
    return {"kind": "signature", "id": sig["id"], "lines": lines}


def _probe_finding(ref: str) -> dict[str, Any] | None:
    from v4doctor.probe.endpoint import FINDINGS

    probe = FINDINGS.get(ref.upper())
    if probe is None:
        return None
    name, title, row = probe
    lines = [f"{ref.upper()} {name} (endpoint; reported by `v4doctor probe`)", title]
    if row:
        lines += ["", f"troubleshooting row: {row}"]
    return {"kind": "probe", "id": ref.upper(), "lines": lines}


def _row(ref: str) -> dict[str, Any] | None:
    from v4doctor.knowledge.kb import load

    row = load().row(ref)
    if row is None:
        return None
    lines = [f"{row['id']}: {row['symptom']}", "", f"cause: {row['cause']}", f"fix: {row['fix']}"]
    if row.get("guide_says"):
        lines.append(f"the guide says: {row['guide_says']}")
    for label, key in (("detected by", "detectors"), ("fixed by", "fixers")):
        if row.get(key):
            lines.append(f"{label}: {', '.join(row[key])}")
    lines += [f"source: {s}" for s in public_sources(row.get("sources", []))]
    return {"kind": "row", "id": row["id"], "lines": lines}
