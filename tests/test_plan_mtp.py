"""The planner never proposes MTP (or SGLang's EAGLE, which drafts with the MTP layer) for a checkpoint without MTP
weights: RedHatAI/DeepSeek-V4-Flash-NVFP4-FP8 ships none (models.toml `mtp = false`, with its sources)."""

from __future__ import annotations

import pytest

from v4doctor.knowledge.kb import load
from v4doctor.planner import Goal, hypothetical, plan
from v4doctor.planner.host import host_of
from v4doctor.planner.search import spec_for


def test_the_record_says_no_mtp_and_others_default_to_it():
    kb = load()
    assert kb.model("redhat-flash-nvfp4-fp8")["mtp"] is False
    assert "mtp" not in kb.model("flash")  # a record without the field has the MTP layer


@pytest.mark.parametrize("engine,key,expected,why", [
    ("vllm", "flash", "mtp", "hit: the official checkpoint carries the MTP layer"),
    ("sglang", "flash", "eagle", "hit: SGLang's EAGLE drafts with the MTP layer"),
    ("vllm", "redhat-flash-nvfp4-fp8", None, "no-hit: no mtp.* weights to draft with"),
    ("sglang", "redhat-flash-nvfp4-fp8", None, "no-hit: EAGLE would need the same missing layer"),
    ("vllm", "flash-dspark", "dspark", "DSpark checkpoints keep their own draft"),
])
def test_spec_for_reads_the_per_model_fact(engine, key, expected, why):
    kb = load()
    host = host_of(hypothetical("8xH200", kb), kb)
    assert spec_for(engine, kb.model(key), host, Goal(prefer="latency")) == expected, why


def test_latency_plans_for_the_redhat_checkpoint_carry_no_speculative_config():
    facts = hypothetical("8xB200", load())
    result = plan(facts, Goal(model="redhat-flash-nvfp4-fp8", engine="vllm", prefer="latency", top=5))
    assert result.plans, result.rejected
    for p in result.plans:
        assert p.speculative is None and "--speculative-config" not in p.command
    official = plan(facts, Goal(model="flash", engine="vllm", prefer="latency")).plans[0]
    assert official.speculative == "mtp" and '"method":"mtp"' in official.command  # the same goal on Flash still drafts


def test_a_dspark_plan_is_sized_as_dspark_not_as_mtp():
    """The planner hands the plan's own speculative method to the fit: on vLLM 0.26 DSpark's three draft layers widen
    the packed block (1,077,120 B against 1,039,680), so a DSpark plan holds fewer KV tokens than MTP would say."""
    from v4doctor.launch.fit import fit
    from v4doctor.planner.search import Candidate, size

    kb = load()
    host = host_of(hypothetical("2xH200", kb), kb)
    model = kb.model("flash-dspark")
    c = size(Candidate(model=model, engine="vllm", version="0.26.0", layout="tp", tp=2, gpus=2, spec="dspark"),
             host, Goal(prefer="latency"), kb)
    common = dict(gpus=2, gpu_mem_gib=host.mem_gib, engine="vllm", tp=2, engine_version="0.26.0",
                  gpu_name=host.gpu_name or "", max_model_len=None, max_num_seqs=1)
    as_dspark = fit(model, mtp=True, spec_method="dspark", **common)
    as_mtp = fit(model, mtp=True, spec_method="mtp", **common)
    assert as_dspark.draft_layers == 3 and as_mtp.draft_layers == 1
    assert as_dspark.kv_tokens < as_mtp.kv_tokens
    assert c.kv_tokens == as_dspark.kv_tokens
