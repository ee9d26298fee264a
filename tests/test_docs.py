"""The generated docs are current, and every troubleshooting row has detectors that exist."""

from __future__ import annotations

import sys

import pytest

from conftest import ROOT
from v4doctor.knowledge.kb import load

sys.path.insert(0, str(ROOT / "tools"))
import gen_docs  # noqa: E402

KB = load()
CHECKS = gen_docs.builtin_checks()
CHECK_IDS = {c.id for c in CHECKS}
SIGNATURE_IDS = {s["id"] for s in KB.records("signature")}
ROWS = KB.records("row")


@pytest.mark.parametrize("name", ["troubleshooting.md", "checks.md", "knowledge.md"])
def test_committed_docs_match_a_fresh_generation(name):
    fresh = gen_docs.pages()[name]
    committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert committed == fresh, f"docs/{name} is stale: run python tools/gen_docs.py"


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row_has_a_detector(row):
    assert gen_docs.detectors(row, KB, CHECKS), f"troubleshooting row {row['id']} has no check or signature that detects it"


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row_detectors_exist(row):
    missing = [d for d in row.get("detectors", []) if d not in CHECK_IDS | SIGNATURE_IDS]
    assert not missing, f"row {row['id']} names detectors that do not exist: {missing}"


def test_rows_named_by_checks_and_signatures_exist():
    rows = {r["id"] for r in ROWS}
    named = {c.troubleshooting for c in CHECKS if c.troubleshooting} | {s["troubleshooting"] for s in KB.records("signature") if s.get("troubleshooting")}
    assert named <= rows, f"troubleshooting rows named but missing: {sorted(named - rows)}"


def test_guide_rows_are_the_guides_seven():
    guide = (ROOT / "fixtures" / "guide" / "deepseek-v4-deployment-guide.md").read_text(encoding="utf-8")
    guide_rows = [r for r in ROWS if r.get("guide")]
    assert len(guide_rows) == 7
    for r in guide_rows:
        # the guide's claim is quoted verbatim (modulo markdown escapes) from its own table
        assert r["guide_says"].replace("~", "\\~")[:40] in guide or r["guide_says"][:40] in guide, r["id"]


def test_troubleshooting_page_shows_claim_and_correction():
    text = gen_docs.pages()["troubleshooting.md"]
    assert "**The guide says:** BF16 needs ~3.2TB" in text
    assert "`V4D210` (checkpoint weights fit the GPUs' memory)" in text


def test_generation_is_deterministic():
    assert gen_docs.pages() == gen_docs.pages()


def test_row_fixers_exist():
    from v4doctor.repair.fixers import FIXERS

    for row in ROWS:
        missing = [f for f in row.get("fixers", []) if f not in FIXERS]
        assert not missing, f"row {row['id']} names fixers that do not exist: {missing}"


@pytest.mark.parametrize("c", [c for c in CHECKS if c.id[:4] in ("V4D1", "V4D2")], ids=lambda c: c.id)
def test_fixers_named_by_host_findings_exist(c):
    """Fixer ids in a host check's fix must be registered (checked on its table cases)."""
    from check_cases import CASES
    from v4doctor.judge.doctor import judge
    from v4doctor.repair.fixers import FIXERS

    for case in CASES.get(c.id, [])[:3]:
        for f in judge(case.facts(), select=[c.id]).findings:
            if f.fix:
                assert set(f.fix.fixers) <= set(FIXERS), (c.id, f.fix.fixers)
