"""TensorRT-LLM's DeepSeek-V4 floors (engines.toml): V4-Flash on Hopper from 1.3.0rc26, the first release cut after
NVIDIA/TensorRT-LLM#16940 (merged 2026-08-28; rc25's tag commit is main of 2026-08-27); the first release with V4 at
all is pinned by no source read, so that record is `unverified` and never judges (V4D201 skips, and says why)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_cases import host  # noqa: E402

from v4doctor.judge.doctor import judge  # noqa: E402
from v4doctor.knowledge.kb import load  # noqa: E402


def _v4d201(host_name: str, version: str):
    facts = host(host_name, engine="trtllm", engine_version=version)
    return [f for f in judge(facts, select=["V4D201"]).findings if f.id == "V4D201"]


def test_the_records_carry_their_sources_and_status():
    floors = {r["id"]: r for r in load().records("engine_floor")}
    hopper, general = floors["trtllm-v4-hopper"], floors["trtllm-v4"]
    assert hopper["min"] == "1.3.0rc26" and hopper["when_gpu_family"] == "hopper" and "16940" in hopper["reason"]
    assert general["status"] == "unverified" and "min" not in general
    assert all(r["sources"] and r["rechecked"] for r in (hopper, general))


@pytest.mark.parametrize("version,severity,why", [
    ("1.3.0rc25", "error", "hit: cut on 2026-08-27, before #16940 reached main"),
    ("1.3.0rc22", "error", "hit: older still"),
    ("1.3.0rc26", "ok", "no-hit: the first release after #16940"),
    ("1.4.0rc1", "ok", "no-hit: newer"),
])
def test_trtllm_on_hopper_is_judged_by_the_16940_floor(version, severity, why):
    [f] = _v4d201("4xh200", version)
    assert f.severity.value == severity, why
    if severity == "error":
        assert "1.3.0rc26" in f.title and "trtllm-v4-hopper" in " ".join(f.evidence)


def test_trtllm_on_blackwell_has_no_verified_floor_and_says_so():
    """No-hit by design: the unverified record must not turn into a guessed minimum."""
    [f] = _v4d201("8xb200", "1.3.0rc22")
    assert f.severity.value == "skipped" and "no verified TensorRT-LLM version floor" in f.detail
