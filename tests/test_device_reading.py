"""The reading v4doctor itself took on a real 1x H200 (device tool, 2026-11-29): its snapshot,
its raw NVML probe, `nvidia-smi -q -x`, and what `v4doctor run --json` printed there.

The snapshot is judged again here and must give the verdicts the real run gave; the
snapshot's facts must agree with the raw NVML reading and with nvidia-smi.
"""

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import HOSTS, load_host
from v4doctor.judge.doctor import judge

SNAPSHOT = "h200-x1-device.json"


def _problems(report_or_dict):
    data = report_or_dict if isinstance(report_or_dict, dict) else report_or_dict.to_dict()
    return sorted(f["id"] for f in data["findings"] if f["severity"] in ("error", "warning"))


def test_snapshot_agrees_with_nvidia_smi_and_the_raw_nvml_reading():
    facts = load_host(SNAPSHOT)
    smi = ET.parse(HOSTS / "h200-x1-device-nvidia-smi-q.xml").getroot()
    probe = json.loads((HOSTS / "h200-x1-device-probe.json").read_text())["calls"]
    [dev] = facts.gpu.devices
    gpu = smi.find("gpu")
    assert dev.name == gpu.findtext("product_name") == probe["dev0.name"]["value"] == "NVIDIA H200"
    assert dev.memory_total_bytes == int(gpu.findtext("fb_memory_usage/total").split()[0]) << 20
    assert facts.gpu.driver_version == smi.findtext("driver_version") == probe["nvmlSystemGetDriverVersion"]["value"]
    assert facts.gpu.cuda_driver_version == smi.findtext("cuda_version") == "13.0"
    assert dev.pci_bus_id == gpu.attrib["id"] and dev.compute_capability == "9.0"
    # NotSupported calls are recorded as unknown for that leaf only, never as a guess
    assert probe["dev0.retired_pages_pending"]["ok"] is False
    assert dev.retired_pages_pending.reason.startswith("NVML NotSupported")
    assert facts.gpu.topology == []  # one GPU: no pairs


@pytest.mark.parametrize("model, run_file", [("flash", "h200-x1-device-run-flash.json"), ("pro", "h200-x1-device-run-pro.json")])
def test_replaying_the_snapshot_gives_the_verdicts_of_the_real_run(model, run_file):
    real = json.loads((HOSTS / run_file).read_text())
    facts = load_host(SNAPSHOT)
    facts.target.model = model
    replay = judge(facts)
    # the real run also asked the hub (it failed there: no network); the snapshot is judged without it
    offline = {"V4D420", "V4D421", "V4D422", "V4D423"}
    assert [i for i in _problems(replay) if i not in offline] == [i for i in _problems(real) if i not in offline]
    assert {"V4D210", "V4D211"} <= set(_problems(real))  # weights do not fit one H200; 64 GiB free disk


def test_a_real_h200_holds_flash_as_a_gguf_with_cpu_offload():
    facts = load_host(SNAPSHOT)
    facts.target.engine = "llamacpp"
    report = judge(facts, select=["V4D212"])
    assert [f.severity.value for f in report.findings] == ["ok"]


def test_the_2026_12_03_reading_replays_to_the_verdicts_the_real_run_gave():
    """Taken after the restructure (issue 11): snapshot and `run --json` on the real H200, the same minute."""
    real = json.loads((HOSTS / "h200-x1-device-run-2026-12-03.json").read_text())
    facts = load_host("h200-x1-device-2026-12-03.json")
    assert facts.gpu.devices[0].name == "NVIDIA H200"
    assert _problems(judge(facts)) == _problems(real) == ["V4D210", "V4D211", "V4D422"]
    hub = next(f for f in real["findings"] if f["id"] == "V4D422")
    assert "offline" in hub["title"]  # the host has no DNS: reported at once, not after a timeout
