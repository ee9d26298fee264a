"""tools/nvml_probe.py records a host; tools/probe_to_facts.py turns the reading into the committed fixture."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import HOSTS, ROOT, run_cli

from v4doctor.collect import gpu
from v4doctor.facts import Unknown, facts_from_json, facts_to_json
from v4doctor.output.render import to_json

sys.path.insert(0, str(ROOT / "tools"))
import nvml_probe  # noqa: E402
import probe_to_facts  # noqa: E402

READING = json.loads((HOSTS / "h200-x1-probe.json").read_text())
FIXTURE = json.loads((HOSTS / "h200-x1.json").read_text())


def _without_version(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "v4doctor_version"}


def test_conversion_reproduces_the_committed_fixture():
    again = facts_to_json(probe_to_facts.convert(READING, "flash", "vllm"))
    assert _without_version(json.loads(to_json(again))) == _without_version(FIXTURE)


def test_the_tool_writes_the_same_snapshot(tmp_path):
    out = tmp_path / "h200.json"
    cmd = [sys.executable, str(ROOT / "tools" / "probe_to_facts.py"), str(HOSTS / "h200-x1-probe.json"), "-o", str(out)]
    subprocess.run(cmd, check=True, timeout=60)
    assert _without_version(json.loads(out.read_text())) == _without_version(FIXTURE)


def test_fixture_round_trips_through_facts_from_json():
    facts = facts_from_json(FIXTURE)
    assert facts_to_json(facts) == FIXTURE
    converted = probe_to_facts.convert(READING)
    converted.v4doctor_version = facts.v4doctor_version
    assert facts == converted  # typed equality: every Unknown and value as the collector made it


def test_snapshot_agrees_with_the_raw_command_outputs():
    facts = facts_from_json(FIXTURE)
    csv = READING["nvidia_smi_csv"]["stdout"].splitlines()[1].split(", ")
    assert csv[1] == facts.gpu.devices[0].name and csv[4] == facts.gpu.devices[0].compute_capability
    assert int(csv[3].removesuffix(" MiB")) == facts.gpu.devices[0].memory_total_bytes // 2**20
    assert facts.system.shm_bytes == 137438953472  # df: tmpfs 137438953472 … /dev/shm
    assert facts.system.ram_total_bytes == 135148564480  # free -b: Mem total
    assert facts.system.cpu_count == 16 and facts.system.kernel == "6.18.44-fc-v657-gpu"
    assert [d.mount_point for d in facts.system.disks] == ["/"]  # df listed / twice
    assert facts.python.torch_cuda == "13.0" and facts.python.packages["torch"] == "2.11.0"
    assert facts.binaries["nvcc"].version == "13.0" and facts.binaries["nvidia-smi"].version == "580.159.04"
    assert facts.collected_at == "2026-11-29T05:51:26+00:00"


def test_snapshot_judges_through_the_cli():
    result = run_cli("run", "--facts", str(HOSTS / "h200-x1.json"), "--json")
    assert result.code in (0, 1), result.err
    assert result.json()["target"]


def test_the_probe_recording_a_replay_gives_back_the_reading():
    """Probe and replayer share one key table: recording the replayed H200 reproduces its answers
    (`dev0.memory` aside: a real ctypes struct has no __dict__ and was recorded as {})."""
    from nvml_replay import RecordedNvml

    calls, count = nvml_probe.probe_nvml(RecordedNvml(READING))
    assert count == READING["device_count"] == 1
    shared = set(calls) & set(READING["calls"]) - {"dev0.memory"}
    assert {"dev0.name", "dev0.remapped_rows", "dev0.retired_pages_pending", "dev0.nvlink17.state"} <= shared
    assert {k: calls[k] for k in shared} == {k: READING["calls"][k] for k in shared}
    assert calls["dev0.memory_v2"]["error"].startswith("NotRecorded")  # asked, but not in this older reading


@pytest.mark.parametrize(
    "text, expected",
    [
        ("GPU 0: NVIDIA H200 (UUID: GPU-3f2a9c1e-1b2c-4d5e-8f90-123456789abc)", "GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)"),
        ("<serial>1654922038213</serial>", "<serial>0000000000000</serial>"),
        ("<board_id>0x6</board_id>", "<board_id>0x6</board_id>"),  # no-hit: not an identifier we zero
    ],
)
def test_probe_scrubs_uuids_and_serials(text, expected):
    assert nvml_probe.scrub(text) == expected


def test_probe_records_this_gpu_less_machine_and_the_reading_converts(tmp_path):
    """Run the real probe here: real pynvml raises LibraryNotFound, recorded as raised."""
    out = tmp_path / "here.json"
    assert nvml_probe.main(["-o", str(out)]) == 0
    reading = json.loads(out.read_text())
    if reading["calls"]["nvmlInit"]["ok"]:
        pytest.skip("this machine has an NVIDIA driver")
    assert reading["calls"]["nvmlInit"]["error"].startswith("NVMLError_LibraryNotFound")
    facts = probe_to_facts.convert(reading)
    assert facts.gpu == Unknown(gpu.NO_DRIVER)
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal:")).split()[1])
    assert facts.system.ram_total_bytes == total_kb * 1024  # free -b and /proc/meminfo agree
    assert facts.python.packages["huggingface_hub"] != Unknown("not installed")
