"""Every knowledge-base source is public: a URL, or a note naming public documents found in the code index, never a
path inside this project or its research folder (issue #13 re-check). Re-check and unverified notes carry their date."""

from __future__ import annotations

import re

import pytest

from v4doctor.knowledge.kb import load

KB = load()
PUBLIC = ("https://", "http://", "code index:")
INTERNAL = re.compile(r"^(shared|tools|fixtures|tests|docs|v4doctor|research)/|\.md §|^vllm \d")


def _records():
    for kind, records in KB.data.items():
        if isinstance(records, list):
            for r in records:
                if isinstance(r, dict) and r.get("sources"):
                    yield kind, r


RECORDS = list(_records())


def _id(x):
    return x if isinstance(x, str) else x.get("id") or x.get("key") or x.get("name") or x.get("cuda") or x.get("engine") or ""


@pytest.mark.parametrize("kind,record", RECORDS, ids=_id)
def test_no_source_is_an_internal_path(kind, record):
    for s in record["sources"]:
        assert s.startswith(PUBLIC), (kind, _id(record), s)
        assert not INTERNAL.search(s), (kind, _id(record), s)


def test_the_check_refuses_an_internal_path():
    """The rule above would catch what the re-check replaced."""
    for s in ["shared/research/v4-facts-review.md §6a", "tools/gen_docs.py", "vllm 0.26.0 wheel: vllm/models/x.py"]:
        assert not s.startswith(PUBLIC) or INTERNAL.search(s)


@pytest.mark.parametrize("field", ["rechecked", "unverified"])
def test_recheck_notes_are_dated(field):
    notes = [(kind, _id(r), r[field]) for kind, r in RECORDS if r.get(field)]
    assert notes, field
    for kind, rid, note in notes:
        assert re.match(r"^\d{4}-\d{2}-\d{2}: \S", note), (kind, rid, note)


def test_a_record_is_not_both_confirmed_and_unverified_without_saying_which_part():
    """A record may carry both only when the re-check names what it confirmed and what it could not."""
    for kind, r in RECORDS:
        if r.get("rechecked") and r.get("unverified"):
            assert "not" in r["unverified"], (kind, _id(r))


@pytest.mark.parametrize("name,mib", [
    ("NVIDIA H100 PCIe", 81559), ("NVIDIA A100-SXM4-40GB", 40960), ("NVIDIA A800-SXM4-80GB", 81920),
    ("NVIDIA L20", 46068), ("NVIDIA H100 NVL", 95830), ("NVIDIA GH200 144G HBM3e", 146831),
    ("NVIDIA RTX A6000", 49140), ("NVIDIA RTX PRO 6000 Blackwell Server Edition", 97887), ("Tesla V100-SXM2-16GB", 16384),
])
def test_nvml_memory_found_in_public_nvidia_smi_output(name, mib):
    """The re-check added what nvidia-smi prints for these cards (the spec figure stays in memory_gib)."""
    rec = KB.gpu(name)
    assert rec["memory_bytes_nvml"] == mib * 2**20
    assert rec["memory_bytes_nvml"] <= rec["memory_gib"] * 2**30 + 2**30


@pytest.mark.parametrize("key,gb", [("flash-dspark", 200), ("nvidia-flash-nvfp4", 170), ("nvidia-pro-nvfp4", 960)])
def test_recipe_minimums_of_the_variants(key, gb):
    """vllm-project/recipes' per-variant vram_minimum_gb (DeepSeek-V4-Flash.yaml / DeepSeek-V4-Pro.yaml)."""
    assert KB.model(key)["vram_minimum_gb"] == gb
