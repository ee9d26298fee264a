"""Every registered check: unique id, title, category, docstring, documented in docs/checks.md,
and at least one hit and one no-hit case in tests/check_cases.py, all of which pass."""

from __future__ import annotations

import pytest

from check_cases import CASES
from conftest import ROOT
from v4doctor.judge.doctor import judge, registry
from v4doctor.judge.findings import Severity
from v4doctor.judge.registry import CATEGORIES, ID_PATTERN

REG = registry()
CHECKS = REG.checks
HITS = {"error", "warning", "info"}


def test_registry_loads_without_plugin_errors():
    assert REG.load_errors == []


def test_ids_unique():
    ids = [c.id for c in CHECKS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("c", CHECKS, ids=lambda c: c.id)
def test_check_is_well_formed(c):
    assert ID_PATTERN.match(c.id)
    assert c.title.strip() and c.category in CATEGORIES
    assert c.doc.splitlines()[0].strip(), "first docstring line says what and why"


@pytest.mark.parametrize("c", CHECKS, ids=lambda c: c.id)
def test_check_is_documented(c):
    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    assert f"`{c.id}`" in text, f"{c.id} missing from docs/checks.md (run python tools/gen_docs.py)"


@pytest.mark.parametrize("c", CHECKS, ids=lambda c: c.id)
def test_check_has_hit_and_no_hit_cases(c):
    rows = CASES.get(c.id, [])
    assert any(r.severity in HITS for r in rows), f"{c.id} has no hit case in tests/check_cases.py"
    assert any(r.severity == "ok" for r in rows), f"{c.id} has no no-hit case in tests/check_cases.py"
    assert all(r.reason.strip() for r in rows)


def test_cases_name_registered_checks():
    known = {c.id for c in CHECKS}
    assert set(CASES) <= known, f"cases for unregistered checks: {sorted(set(CASES) - known)}"


_ROWS = [(cid, i, case) for cid, cases in sorted(CASES.items()) for i, case in enumerate(cases)]


@pytest.mark.parametrize("check_id,i,case", _ROWS, ids=[f"{cid}-{i}-{case.severity}" for cid, i, case in _ROWS])
def test_case(check_id, i, case):
    built = case.facts()  # Facts, or (Facts, FleetFacts) for the fleet checks (tests/check_cases_fleet.py)
    facts, fleet = built if isinstance(built, tuple) else (built, None)
    findings = [f for f in judge(facts, select=[check_id], fleet=fleet).findings if f.id == check_id]
    assert findings, f"{check_id} produced nothing"
    worst = min((f.severity for f in findings), key=lambda s: s.rank)
    assert worst.value == case.severity, f"{check_id} case {i} ({case.reason}): got {[(f.severity.value, f.title, f.detail) for f in findings]}"
    for f in findings:
        if f.severity in (Severity.ERROR, Severity.WARNING):
            assert f.troubleshooting, f"{check_id}: a problem finding names its troubleshooting row"
            assert f.fix is not None and f.fix.text, f"{check_id}: a problem finding says how to fix it"
