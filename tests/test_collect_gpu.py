"""GPU collector: replays the real H200 NVML reading, agrees with its `nvidia-smi -q -x`, fails soft."""

from __future__ import annotations

import copy
import json
import sys
import xml.etree.ElementTree as ET

import pynvml
import pytest
from conftest import HOSTS, ROOT

from v4doctor.collect import gpu
from v4doctor.facts import GpuDevice, Unknown, known

sys.path.insert(0, str(ROOT / "tools"))
from nvml_replay import NotRecorded, RecordedNvml  # noqa: E402

READING = json.loads((HOSTS / "h200-x1-probe.json").read_text())
SMI = ET.parse(HOSTS / "h200-x1-nvidia-smi-q.xml").getroot()


def _replay(reading=READING):
    nvml = RecordedNvml(reading)
    return gpu.collect(nvml), nvml


def test_reproduces_the_recorded_h200():
    facts, _ = _replay()
    calls = READING["calls"]
    (dev,) = facts.devices
    assert facts.driver_version == calls["nvmlSystemGetDriverVersion"]["value"] == "580.159.04"
    assert facts.cuda_driver_version == "13.0" and calls["nvmlSystemGetCudaDriverVersion"]["value"] == 13000
    assert facts.nvml_version == "13.580.159.04"
    assert dev.name == "NVIDIA H200" and dev.compute_capability == "9.0"
    assert dev.memory_total_bytes == calls["dev0.memory_total"]["value"]
    assert dev.memory_used_bytes == calls["dev0.memory_used"]["value"]
    assert dev.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert dev.mig_enabled is False and dev.persistence_mode is True
    assert (dev.remapped_rows.correctable, dev.remapped_rows.uncorrectable) == (0, 0)
    assert not dev.remapped_rows.pending and not dev.remapped_rows.failure
    assert dev.processes == []
    assert facts.topology == []  # one GPU: no pairs


def test_not_supported_calls_become_unknown_for_that_leaf_only():
    facts, _ = _replay()
    dev = facts.devices[0]
    assert dev.retired_pages_pending == Unknown("NVML NotSupported: nvmlDeviceGetRetiredPagesPendingStatus")
    assert dev.nvlinks_active == Unknown("NVML NotSupported: nvmlDeviceGetNvLinkState")
    assert known(dev.remapped_rows) and known(dev.memory_total_bytes)


def test_every_call_the_collector_makes_was_recorded_except_memory_v2():
    """The older reading predates the v2 memory query; everything else was asked of the real host."""
    _, nvml = _replay()
    missing = [k for k in nvml.asked if k not in READING["calls"]]
    assert missing == ["dev0.memory_v2"]
    reserved = _replay()[0].devices[0].memory_reserved_bytes
    assert isinstance(reserved, Unknown) and "used includes the reservation" in reserved.reason


def _smi(path: str) -> str:
    return SMI.find(path).text.strip()


def test_agrees_with_nvidia_smi_xml():
    facts, _ = _replay()
    dev = facts.devices[0]
    assert int(_smi("attached_gpus")) == len(facts.devices)
    assert _smi("gpu/product_name") == dev.name
    assert _smi("driver_version") == facts.driver_version
    assert _smi("cuda_version") == facts.cuda_driver_version
    assert _smi("gpu/pci/pci_bus_id") == dev.pci_bus_id == SMI.find("gpu").get("id")
    assert _smi("gpu/uuid") == dev.uuid
    assert int(_smi("gpu/fb_memory_usage/total").removesuffix(" MiB")) == dev.memory_total_bytes // 2**20
    assert (_smi("gpu/mig_mode/current_mig") == "Enabled") == dev.mig_enabled
    assert (_smi("gpu/persistence_mode") == "Enabled") == dev.persistence_mode
    assert int(_smi("gpu/remapped_rows/remapped_row_corr")) == dev.remapped_rows.correctable
    assert (_smi("gpu/remapped_rows/remapped_row_pending") == "Yes") == dev.remapped_rows.pending


def test_the_recorded_type_error_replays_as_a_type_error():
    """The probe called nvmlDeviceGetGpuFabricInfo with the wrong signature; the replay raises it again."""
    nvml = RecordedNvml(READING)
    with pytest.raises(TypeError, match="gpuFabricInfo"):
        nvml._answer("dev0.gpu_fabric_info")
    with pytest.raises(pynvml.NVMLError_NotSupported):
        nvml.nvmlDeviceGetNvLinkState(0, 3)
    with pytest.raises(NotRecorded):
        nvml.nvmlDeviceGetTopologyCommonAncestor(0, 1)


def test_a_raising_call_becomes_unknown_naming_the_call():
    reading = copy.deepcopy(READING)
    reading["calls"]["dev0.name"] = {"ok": False, "error": "TypeError: bad signature"}
    reading["calls"]["dev0.mig_mode"] = {"ok": False, "error": "NVMLError_NoPermission: Insufficient Permissions"}
    dev = _replay(reading)[0].devices[0]
    assert dev.name == Unknown("nvmlDeviceGetName failed: TypeError: bad signature")
    assert dev.mig_enabled == Unknown("NVML NoPermission: nvmlDeviceGetMigMode")
    assert dev.compute_capability == "9.0"


def test_processes_holding_memory_with_and_without_a_readable_name():
    reading = copy.deepcopy(READING)
    calls = reading["calls"]
    calls["dev0.processes"]["value"] = [{"pid": 4242, "usedGpuMemory": 80 * 2**30}, {"pid": 77, "usedGpuMemory": None}]
    calls["process4242.name"] = {"ok": True, "value": "python3"}
    calls["process77.name"] = {"ok": False, "error": "NVMLError_NoPermission: Insufficient Permissions"}
    procs = _replay(reading)[0].devices[0].processes
    assert (procs[0].pid, procs[0].used_bytes, procs[0].name) == (4242, 80 * 2**30, "python3")
    assert procs[1].name == Unknown("NVML NoPermission: nvmlSystemGetProcessName")
    assert isinstance(procs[1].used_bytes, Unknown)


# ----------------------------------------------------------------- no driver, real pynvml
def _has_nvml() -> bool:
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


@pytest.mark.skipif(_has_nvml(), reason="this machine has an NVIDIA driver")
def test_no_library_with_the_real_pynvml():
    assert gpu.collect() == Unknown(gpu.NO_DRIVER)


def test_driver_not_loaded():
    reading = copy.deepcopy(READING)
    reading["calls"]["nvmlInit"] = {"ok": False, "error": "NVMLError_DriverNotLoaded: Driver Not Loaded"}
    facts, _ = _replay(reading)
    assert facts == Unknown("NVML could not start: NVMLError_DriverNotLoaded: Driver Not Loaded")


# ----------------------------------------------------------------- topology, from a derived 4-GPU reading
def _four_gpus(links: dict | None = None) -> dict:
    """DERIVED, not recorded: the H200 reading copied to four GPUs with their own bus ids, then
    the NVLink and PCIe answers each test needs. Values follow the NVML enums in pynvml."""
    reading = copy.deepcopy(READING)
    calls = reading["calls"]
    dev0 = {k[len("dev0."):]: v for k, v in calls.items() if k.startswith("dev0.")}
    for i in range(1, 4):
        calls.update({f"dev{i}.{k}": copy.deepcopy(v) for k, v in dev0.items()})
        calls[f"dev{i}.pci_bus_id"] = {"ok": True, "value": f"00000000:{i + 6:02X}:00.0"}
    reading["device_count"] = 4
    for key, value in (links or {}).items():
        calls[key] = value if isinstance(value, dict) and "ok" in value else {"ok": True, "value": value}
    return reading


def _pcie_pairs(level: int, p2p: int) -> dict:
    return {f"pair{a}_{b}.{k}": v for a in range(4) for b in range(a + 1, 4)
            for k, v in (("common_ancestor", level), ("p2p_read", p2p))}


def _switch_links(count: int) -> dict:
    out = {}
    for i in range(4):
        for link in range(18):
            out[f"dev{i}.nvlink{link}.state"] = int(link < count)
            out[f"dev{i}.nvlink{link}.remote_type"] = pynvml.NVML_NVLINK_DEVICE_TYPE_SWITCH
    return out


def _words(facts) -> dict:
    return {(l.a, l.b): l.link for l in facts.topology}


def test_nvswitch_fabric_gives_nv18_between_every_pair():
    reading = _four_gpus({**_switch_links(18), **_pcie_pairs(pynvml.NVML_TOPOLOGY_SYSTEM, pynvml.NVML_P2P_STATUS_OK)})
    facts, _ = _replay(reading)
    assert [d.nvlinks_active for d in facts.devices] == [18] * 4
    assert set(_words(facts).values()) == {"NV18"} and len(facts.topology) == 6
    assert all(link.p2p_read is True for link in facts.topology)


def test_pcie_only_pairs_use_the_topology_words_and_p2p_status():
    pairs = _pcie_pairs(pynvml.NVML_TOPOLOGY_SYSTEM, pynvml.NVML_P2P_STATUS_CHIPSET_NOT_SUPPORTED)
    pairs.update({"pair0_1.common_ancestor": pynvml.NVML_TOPOLOGY_SINGLE, "pair0_1.p2p_read": pynvml.NVML_P2P_STATUS_OK,
                  "pair2_3.common_ancestor": pynvml.NVML_TOPOLOGY_NODE,
                  "pair1_2.common_ancestor": pynvml.NVML_TOPOLOGY_HOSTBRIDGE,
                  "pair0_2.common_ancestor": pynvml.NVML_TOPOLOGY_MULTIPLE})
    facts, _ = _replay(_four_gpus(pairs))  # NVLink states stay as recorded: NotSupported
    words = _words(facts)
    assert (words[0, 1], words[0, 2], words[1, 2], words[2, 3], words[0, 3]) == ("PIX", "PXB", "PHB", "NODE", "SYS")
    p2p = {(l.a, l.b): l.p2p_read for l in facts.topology}
    assert p2p[0, 1] is True and p2p[0, 3] is False


def test_direct_nvlink_bridge_counts_links_to_that_peer_only():
    bridge = {f"dev0.nvlink{n}.{k}": v for n in range(4)
              for k, v in (("state", 1), ("remote_type", pynvml.NVML_NVLINK_DEVICE_TYPE_GPU), ("remote_bus_id", "00000000:07:00.0"))}
    bridge.update({f"dev0.nvlink{n}.state": 0 for n in range(4, 18)})
    facts, _ = _replay(_four_gpus({**bridge, **_pcie_pairs(pynvml.NVML_TOPOLOGY_NODE, pynvml.NVML_P2P_STATUS_OK)}))
    words = _words(facts)
    assert facts.devices[0].nvlinks_active == 4
    assert words[0, 1] == "NV4" and words[0, 2] == "NODE" and words[1, 2] == "NODE"


def test_one_failing_pair_does_not_hide_the_others():
    pairs = _pcie_pairs(pynvml.NVML_TOPOLOGY_NODE, pynvml.NVML_P2P_STATUS_OK)
    pairs["pair1_3.common_ancestor"] = {"ok": False, "error": "NVMLError_NotSupported: Not Supported"}
    facts, _ = _replay(_four_gpus(pairs))
    words = _words(facts)
    assert words[1, 3] == Unknown("NVML NotSupported: nvmlDeviceGetTopologyCommonAncestor")
    assert [w for k, w in words.items() if k != (1, 3)] == ["NODE"] * 5


def test_a_lost_gpu_keeps_its_index_and_the_rest():
    reading = _four_gpus(_pcie_pairs(pynvml.NVML_TOPOLOGY_NODE, pynvml.NVML_P2P_STATUS_OK))
    reading["calls"]["dev2.handle"] = {"ok": False, "error": "NVMLError_GpuIsLost: GPU is lost"}
    facts, _ = _replay(reading)
    assert facts.devices[2] == GpuDevice(2, *[Unknown("NVML GpuIsLost: nvmlDeviceGetHandleByIndex")] * 4)
    assert facts.devices[3].name == "NVIDIA H200"
    assert _words(facts)[0, 2] == Unknown("NVML GpuIsLost: nvmlDeviceGetHandleByIndex")


def test_memory_info_v2_keeps_the_reservation_out_of_used():
    """DERIVED: v2 numbers for the same H200 as its nvidia-smi -q -x shows them (reserved 616 MiB, used 0 MiB)."""
    reading = copy.deepcopy(READING)
    total = READING["calls"]["dev0.memory_total"]["value"]
    reading["calls"]["dev0.memory_v2"] = {"ok": True, "value": {"total": total, "reserved": 616 * 2**20, "free": total - 616 * 2**20, "used": 0}}
    dev = _replay(reading)[0].devices[0]
    assert (dev.memory_total_bytes, dev.memory_used_bytes, dev.memory_reserved_bytes) == (total, 0, 616 * 2**20)
    assert int(_smi("gpu/fb_memory_usage/used").removesuffix(" MiB")) == dev.memory_used_bytes // 2**20
    assert int(_smi("gpu/fb_memory_usage/reserved").removesuffix(" MiB")) == dev.memory_reserved_bytes // 2**20
