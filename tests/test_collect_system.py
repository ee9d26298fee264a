"""System collector: this real machine, and recorded /proc texts under a fake root."""

from __future__ import annotations

import os
import platform

import pytest

from v4doctor.collect import system
from v4doctor.facts import Unknown, facts_to_json, known

# Recorded from the H200 host's `free -b` (MemTotal) and a Debian 12 container (the rest).
MEMINFO = "MemTotal:       131980024 kB\nMemFree:        130665524 kB\nMemAvailable:   131440824 kB\nHugePages_Total:       0\n"
CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n"
OS_RELEASE = 'PRETTY_NAME="Ubuntu 24.04.2 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
MOUNTS = (
    "overlay / overlay rw,relatime,lowerdir=/var/lib/docker/overlay2/l/X 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev,size=65536k 0 0\n"
    "/dev/nvme1n1 /data xfs rw,relatime 0 0\n"
    "/dev/nvme2n1 /data/models\\040hf ext4 rw,relatime 0 0\n"
)
CGROUP_K8S = "12:memory:/kubepods/burstable/pod1f0e/3c9a\n0::/\n"


def test_parsers_read_recorded_texts():
    assert system.parse_meminfo(MEMINFO)["MemTotal"] == 131980024 * 1024
    assert system.parse_meminfo(MEMINFO)["HugePages_Total"] == 0  # a count, not kB
    assert system.parse_cpuinfo(CPUINFO) == "Intel(R) Xeon(R) Processor"
    assert system.parse_os_release(OS_RELEASE) == "Ubuntu 24.04.2 LTS"
    assert system.parse_os_release('NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\n') == "Rocky Linux 9.4 (Blue Onyx)"
    assert isinstance(system.parse_cpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n"), Unknown)  # ARM: no model name


@pytest.mark.parametrize(
    "path, mount",
    [
        ("/data/weights", ("/data", "xfs")),
        ("/data/models hf/x", ("/data/models hf", "ext4")),  # the escaped space, longest prefix wins
        ("/datax", ("/", "overlay")),  # a shared string prefix is not a parent directory
        ("/dev/shm", ("/dev/shm", "tmpfs")),
    ],
)
def test_longest_mount_prefix(path, mount):
    assert system.mount_for(path, system.parse_mounts(MOUNTS)) == mount


@pytest.mark.parametrize(
    "files, env, cgroup, expected",
    [
        ({".dockerenv": ""}, {}, "0::/\n", "docker"),
        ({"run/.containerenv": ""}, {}, "0::/\n", "podman"),
        ({}, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "0::/\n", "kubernetes"),
        ({}, {}, CGROUP_K8S, "kubernetes"),
        ({}, {}, "1:name=systemd:/docker/4f3c\n", "docker"),
        # no-hit: a bare host with cgroup v2 shows only `0::/`, and must not be called a container
        ({}, {}, "0::/init.scope\n", "none"),
    ],
)
def test_container_detection(tmp_path, files, env, cgroup, expected):
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert system.container_runtime(str(tmp_path), env, cgroup) == expected


def _fake_root(tmp_path):
    for rel, text in {"proc/meminfo": MEMINFO, "proc/cpuinfo": CPUINFO, "proc/mounts": MOUNTS,
                      "etc/os-release": OS_RELEASE, "proc/1/cgroup": CGROUP_K8S}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return str(tmp_path)


def test_collect_from_recorded_root(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    facts = system.collect([], root=_fake_root(tmp_path))
    assert facts.os == "Ubuntu 24.04.2 LTS" and facts.cpu_model == "Intel(R) Xeon(R) Processor"
    assert facts.ram_available_bytes == 131440824 * 1024
    assert facts.in_container is True and facts.container_runtime == "kubernetes"


def test_unreadable_proc_fails_soft(tmp_path):
    facts = system.collect([], root=str(tmp_path))  # an empty root: nothing to read
    assert isinstance(facts.os, Unknown) and "cannot read /etc/os-release" in facts.os.reason
    assert isinstance(facts.ram_total_bytes, Unknown) and isinstance(facts.cpu_model, Unknown)
    assert known(facts.kernel)  # platform still answers
    assert facts_to_json(facts)["ram_total_bytes"] == {"unknown": "cannot read /proc/meminfo: No such file or directory"}  # #16: the reason, not "no MemTotal"


# ----------------------------------------------------------------- this real machine
def test_this_machine_agrees_with_independent_reads(tmp_path):
    facts = system.collect([str(tmp_path), str(tmp_path / "not" / "yet" / "downloaded")])
    assert facts.kernel == platform.release() and facts.arch == platform.machine()
    assert facts.cpu_count == len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal:")).split()[1])
    assert facts.ram_total_bytes == total_kb * 1024
    assert 0 < facts.ram_available_bytes <= facts.ram_total_bytes
    st = os.statvfs("/dev/shm")
    assert facts.shm_bytes == st.f_blocks * st.f_frsize
    here, missing = facts.disks
    assert missing.path.endswith("downloaded") and missing.mount_point == here.mount_point  # nearest existing parent
    assert here.total_bytes == os.statvfs(tmp_path).f_blocks * os.statvfs(tmp_path).f_frsize
    assert known(here.filesystem) and here.filesystem in open("/proc/mounts").read()
    expected_container = os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv") or bool(os.environ.get("KUBERNETES_SERVICE_HOST"))
    if expected_container:
        assert facts.in_container is True


def test_duplicate_paths_are_checked_once(tmp_path):
    facts = system.collect([str(tmp_path), str(tmp_path)])
    assert len(facts.disks) == 1
