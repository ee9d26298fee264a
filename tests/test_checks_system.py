"""System checks: /dev/shm."""

from __future__ import annotations

from check_cases import host, system
from v4doctor.judge.doctor import judge


def test_small_shm_in_container_names_value_and_both_fixes():
    facts = system(host("8xh100-80g"), shm_bytes=64 * 2**20, in_container=True)
    (f,) = [f for f in judge(facts, select=["V4D120"]).findings]
    assert f.title == "/dev/shm is 0.06 GiB in this container, with 8 GPUs"
    assert "--ipc=host" in f.fix.text and "shm_size: 16gb" in f.fix.text


def test_unknown_shm_is_skipped_with_the_reason():
    from v4doctor.facts import Unknown

    facts = system(host("8xh100-80g"), shm_bytes=Unknown("statvfs failed"))
    (f,) = judge(facts, select=["V4D120"]).findings
    assert f.severity.value == "skipped" and "statvfs failed" in f.detail
