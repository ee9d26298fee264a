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
