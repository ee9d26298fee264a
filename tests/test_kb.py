"""The knowledge base loads, every record has sources, and the records other code relies on hold."""

from __future__ import annotations

import re

import pytest

from v4doctor.knowledge.kb import load

KB = load()
GIB = 2**30


def _all_records():
    for kind, records in KB.data.items():
        for r in records:
            yield kind, r


@pytest.mark.parametrize("kind,record", list(_all_records()), ids=lambda x: x if isinstance(x, str) else x.get("id") or x.get("key") or x.get("name") or x.get("cuda") or "")
def test_every_record_has_sources(kind, record):
    sources = record.get("sources")
    assert isinstance(sources, list) and sources and all(isinstance(s, str) and s.strip() for s in sources), (kind, record)


def test_model_keys_and_repos_unique():
    keys = [m["key"] for m in KB.models]
    repos = [m["repo"].lower() for m in KB.models]
    assert len(keys) == len(set(keys))
    assert len(repos) == len(set(repos))


@pytest.mark.parametrize("ref,key", [
    ("flash", "flash"), ("pro", "pro"), ("deepseek-ai/DeepSeek-V4-Flash-Base", "flash-base"),
    ("DEEPSEEK-AI/deepseek-v4-pro-0813", "pro-0813"), ("v4.1", "v4.1-flash"),
    ("unsloth/DeepSeek-V4-Flash-GGUF", "unsloth-flash-gguf"), ("sgl-project/DeepSeek-V4-Flash-FP8", "sgl-flash-fp8"),
])
def test_model_resolves(ref, key):
    assert KB.model(ref)["key"] == key


def test_documented_sizes():
    """The sizes the memory and disk checks lean on (v4-facts-review §6a/§6b)."""
    assert round(KB.model("flash")["disk_bytes"] / GIB, 2) == 148.66
    assert round(KB.model("pro")["disk_bytes"] / GIB, 2) == 805.35
    assert KB.model("pro-0813")["disk_approx"] is True


def test_gguf_records_have_gguf_format_and_base():
    ggufs = [m for m in KB.models if m["format"] == "gguf"]
    assert len(ggufs) >= 4
    for m in ggufs:
        assert KB.find_model(m["base"]) is not None, m["key"]


@pytest.mark.parametrize("name,key,cc", [
    ("NVIDIA H100 80GB HBM3", "H100-80GB", "9.0"), ("NVIDIA H200", "H200", "9.0"),
    ("NVIDIA A100-SXM4-80GB", "A100-80GB", "8.0"), ("NVIDIA A100-SXM4-40GB", "A100-40GB", "8.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX-PRO-6000-Server", "12.0"),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "RTX-PRO-6000", "12.0"),
    ("Tesla V100-SXM2-32GB", "V100-32GB", "7.0"), ("rtx-pro-6000", "RTX-PRO-6000", "12.0"), ("b200", "B200", "10.0"),
    # whole model names: an H20-3e (141 GB) is not an H20 (96 GB), an H100 NVL not an H100 SXM (kb-audit §1)
    ("NVIDIA H20-3e", "H20-3e", "9.0"), ("NVIDIA H20", "H20", "9.0"), ("NVIDIA H100 NVL", "H100-NVL", "9.0"),
    ("NVIDIA H100 PCIe", "H100-PCIe", "9.0"), ("NVIDIA B300 SXM6 AC", "B300", "10.3"), ("NVIDIA GB300", "GB300", "10.3"),
    ("NVIDIA RTX A6000", "RTX-A6000", "8.6"), ("AMD Instinct MI300X", "MI300X", "9.4"), ("MI355X", "MI355X", "9.5"),
    ("NVIDIA A100 80GB PCIe", "A100-80GB", "8.0"), ("NVIDIA GeForce RTX 5090", "RTX-5090", "12.0"),
])
def test_gpu_lookup(name, key, cc):
    g = KB.gpu(name)
    assert g is not None and g["key"] == key and g["compute_capability"] == cc


@pytest.mark.parametrize("name", ["NVIDIA H200 NVL", "NVIDIA H20-4x", "NVIDIA H1000", "H2"])
def test_gpu_lookup_refuses_a_different_model_that_shares_a_prefix(name):
    """A name the knowledge base does not know is unknown (the fit asks for --gpu-mem-gib), never its prefix's record."""
    assert KB.gpu(name) is None


@pytest.mark.parametrize("key,mib", [("B300", 275040), ("GB300", 284208), ("GB200", 189471), ("H20-3e", 143771)])
def test_nvml_memory_of_the_audited_gpus(key, mib):
    """kb-audit §1: what nvidia-smi printed on real B300 / rack GB300 / GB200 / H20-3e hosts, not the spec sheet."""
    assert KB.gpu(key)["memory_bytes_nvml"] == mib * 2**20


def test_every_gpu_family_exists_and_covers_its_cc():
    families = {f["key"]: f for f in KB.records("gpu_family")}
    for g in KB.records("gpu"):
        assert g["compute_capability"] in families[g["family"]]["compute_capabilities"], g["key"]


def test_family_support_values():
    for f in KB.records("gpu_family"):
        for engine in ("vllm", "sglang", "llamacpp"):
            assert f[engine] in ("upstream", "preview", "forks", "never"), (f["key"], engine)


def test_cuda_driver_floors():
    floors = {r["cuda"]: r["min_driver"] for r in KB.records("cuda_driver")}
    assert floors == {"13.0": "580.65.06", "12.9": "575.51.03", "12.8": "570.26"}


def test_engine_floors():
    floors = {r["id"]: r.get("min") for r in KB.records("engine_floor")}
    assert floors["vllm-v4"] == "0.20.0" and floors["vllm-v4-sm120"] == "0.24.0"
    assert floors["vllm-v4-dspark"] == "0.25.0" and floors["vllm-v41"] == "0.30.0"
    assert floors["sglang-v4"] == "0.5.12" and floors["llamacpp-v4"] == "b9840"


def test_guide_claims_quote_the_guide():
    from conftest import GUIDE

    guide = GUIDE.read_text()
    claims = KB.records("guide_claim")
    assert len(claims) >= 10
    for c in claims:
        assert c["guide_says"] and c["truth"], c["id"]
    # a few claims quote the guide word for word
    for phrase in ("vLLM 0.7.x added day-0 support", "SGLang ≥ 0.4.4", "256,000 tokens", "Q4_K_M"):
        assert phrase in guide


def test_rows_have_required_fields():
    for row in KB.records("row"):
        for field in ("id", "symptom", "cause", "fix", "detectors", "fixers", "sources"):
            assert field in row, (row["id"], field)
        if row.get("guide"):
            assert row["guide_says"], row["id"]
    ids = [r["id"] for r in KB.records("row")]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+", i) for i in ids)


@pytest.mark.parametrize("m", KB.models, ids=lambda m: m["key"])
def test_model_schema(m):
    for field in ("key", "repo", "name", "format", "family", "kind"):
        assert m.get(field), (m["key"], field)
    assert m["format"] in ("safetensors", "gguf")
    if m["format"] == "safetensors":
        assert m.get("architecture") in ("DeepseekV4ForCausalLM", "DeepseekV41ForCausalLM")
    if "disk_bytes" in m:
        assert isinstance(m["disk_bytes"], int) and m["disk_bytes"] > 10 * GIB


@pytest.mark.parametrize("g", KB.records("gpu"), ids=lambda g: g["key"])
def test_gpu_schema(g):
    assert re.fullmatch(r"\d+\.\d", g["compute_capability"]) and g["memory_gib"] > 0
    if "memory_bytes_nvml" in g:
        # NVML reports a little less than the spec sheet's GB (H100: 81559 MiB for "80GB"), never more than +10%
        assert 0.85 * g["memory_gib"] * 10**9 < g["memory_bytes_nvml"] < 1.1 * g["memory_gib"] * GIB, g["key"]


def test_rules_name_known_engines_families_and_checks():
    from v4doctor.judge.doctor import registry

    families = {f["key"] for f in KB.records("gpu_family")}
    check_ids = {c.id for c in registry().checks}
    for kind in ("engine_floor", "engine_bad", "transformers_rule", "engine_cuda", "image"):
        for r in KB.records(kind):
            assert r["engine"] in ("vllm", "sglang", "llamacpp", "ollama") + (("trtllm",) if kind == "engine_floor" else ()), (kind, r)
            assert r.get("when_gpu_family", r.get("gpu_family")) in families | {None}, (kind, r)
    for c in KB.records("guide_claim"):
        assert set(c.get("checks", [])) <= check_ids, c["id"]
        if c.get("when_gpu"):
            assert any(g["key"] == c["when_gpu"] for g in KB.records("gpu")), c["id"]
        if c.get("when_model"):
            assert KB.find_model(c["when_model"]), c["id"]


def test_every_spec_fixture_names_its_sources():
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "tools"))
    import make_spec_fixtures

    assert len(make_spec_fixtures.SPECS) == 9
    for spec in make_spec_fixtures.SPECS:
        assert spec.sources and all(s.strip() for s in spec.sources), spec.name


def test_a_named_quant_resolves_to_its_own_size_and_keeps_provenance():
    from v4doctor.knowledge.quants import quant_of, with_quant

    assert quant_of("hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-IQ1_S") == "UD-IQ1_S"
    assert quant_of("unsloth/DeepSeek-V4-Flash-GGUF:UD-Q8_K_XL") == "UD-Q8_K_XL"
    assert quant_of("/models/a:b/file.gguf") is None and quant_of("flash") is None
    repo = KB.model("unsloth-flash-gguf")
    assert with_quant(repo, "ud-iq1_s")["disk_bytes"] == 82_539_237_024  # kb-audit §2, the smallest Flash GGUF
    fork = with_quant(KB.model("teamblobfish-flash-gguf"), "Q4_K_M")
    assert "disk_bytes" not in fork and fork["size_unknown"] and fork["provenance_problem"]
    assert with_quant(KB.model("flash"), "UD-IQ1_S") is KB.model("flash")  # not a GGUF repo: unchanged
