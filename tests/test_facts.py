"""Facts round-trip through JSON, and a bad snapshot is refused with the path that is wrong."""

import pytest

from v4doctor.facts import (
    Facts, FactsError, GpuDevice, GpuFacts, TargetFacts, Unknown, facts_from_json, facts_to_json,
)


def _facts():
    dev = GpuDevice(index=0, name="NVIDIA H200", memory_total_bytes=150754820096, memory_used_bytes=644939776,
                    compute_capability="9.0", retired_pages_pending=Unknown("NVML NotSupported"))
    return Facts(target=TargetFacts(model="flash", engine="vllm"),
                 gpu=GpuFacts(driver_version="580.159.04", cuda_driver_version="13.0", devices=[dev]))


def test_round_trip_keeps_unknowns_and_values():
    facts = _facts()
    data = facts_to_json(facts)
    assert data["gpu"]["devices"][0]["retired_pages_pending"] == {"unknown": "NVML NotSupported"}
    again = facts_from_json(data)
    assert again == facts
    assert isinstance(again.gpu.devices[0].retired_pages_pending, Unknown)


def test_unknown_is_falsy():
    assert not Unknown("x")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["gpu"]["devices"][0].__setitem__("memory_total_bytes", "lots"), "facts.gpu.devices[0].memory_total_bytes"),
        (lambda d: d.__setitem__("schema_version", 99), "schema_version 99"),
        (lambda d: d["target"].pop("model"), "missing field 'model'"),
        (lambda d: d["gpu"].__setitem__("devices", {"a": 1}), "facts.gpu.devices"),
    ],
)
def test_bad_snapshot_names_the_problem(mutate, message):
    data = facts_to_json(_facts())
    mutate(data)
    with pytest.raises(FactsError) as err:
        facts_from_json(data)
    assert message in str(err.value)


def test_not_a_snapshot():
    with pytest.raises(FactsError, match="not a v4doctor facts snapshot"):
        facts_from_json([1, 2])
