"""The launch-plan checks V4D301-V4D315 against their hit/no-hit table (tests/check_cases_launch.py)."""

from __future__ import annotations

import pytest
from check_cases_launch import CASES

from v4doctor.judge.doctor import judge

IDS = sorted({c[0] for c in CASES})


@pytest.mark.parametrize("check_id,builder,severity,reason", CASES, ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_case(check_id, builder, severity, reason):
    report = judge(builder(), select=[check_id])
    found = [f for f in report.findings if f.id == check_id]
    assert found, f"{check_id} did not run ({reason})"
    severities = {f.severity.value for f in found}
    assert severities == {severity}, f"{check_id}: expected {severity} ({reason}); got {[(f.severity.value, f.title) for f in found]}"


@pytest.mark.parametrize("check_id", IDS)
def test_every_launch_check_has_hit_and_no_hit(check_id):
    rows = [c for c in CASES if c[0] == check_id]
    assert any(r[2] != "ok" for r in rows) and any(r[2] == "ok" for r in rows)


def test_every_registered_launch_check_has_cases():
    from v4doctor.judge.doctor import registry

    registered = {c.id for c in registry().checks if c.module.endswith("launch")}
    assert registered == set(IDS)


def test_no_launch_plan_means_the_launch_checks_stay_silent():
    """No --cmd/--compose: the launch checks do not apply, so they say nothing (not "could not check")."""
    from check_cases import host

    report = judge(host("4xh200"), select=["V4D3"])
    assert report.findings == []
