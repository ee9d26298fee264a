"""The Python API (`from v4doctor import diagnose, check, fix`): the CLI's functions, no host access."""

from __future__ import annotations

import json

import pytest

from conftest import HOSTS, LOGS, run_cli
from v4doctor.errors import UsageError

SNAPSHOT = HOSTS / "h200-x1.json"


def test_the_package_exports_resolve_to_the_api_module():
    import v4doctor
    from v4doctor import api

    assert (v4doctor.diagnose, v4doctor.check, v4doctor.fix) == (api.diagnose, api.check, api.fix)


def test_check_on_a_snapshot_is_the_run_report():
    from v4doctor import check

    report = check(json.loads(SNAPSHOT.read_text()))
    assert report.to_dict() == run_cli("run", "--facts", str(SNAPSHOT), "--json").json()


def test_check_accepts_facts_objects_too():
    from conftest import load_host
    from v4doctor import check

    facts = load_host("h200-x1.json")
    assert check(facts, cmd="vllm serve deepseek-ai/DeepSeek-V4-Pro").to_dict()["target"]["model"] == "deepseek-ai/DeepSeek-V4-Pro"
    assert facts.target.model == "flash", "the caller's facts are not changed"


def test_a_plan_alone_is_judged_without_collecting_anything(monkeypatch):
    import v4doctor.collect as collect
    from v4doctor import check

    monkeypatch.setattr(collect, "gather", lambda *a, **k: pytest.fail("check() collected facts from this host"))
    report = check(cmd="vllm serve deepseek-ai/DeepSeek-V4-Pro --tensor-parallel-size 8")
    target = report.to_dict()["target"]
    assert (target["model_repo"], target["engine"], target["source"]) == ("deepseek-ai/DeepSeek-V4-Pro", "vllm", "spec")


@pytest.mark.parametrize(
    "kwargs, model, engine",
    [
        ({"cmd": "python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp 4"}, "deepseek-ai/DeepSeek-V4-Flash", "sglang"),
        ({"cmd": "vllm serve deepseek-ai/DeepSeek-V4-Pro", "model": "flash"}, "flash", "vllm"),  # explicit model wins
        ({"cmd": "vllm serve /models/v4", "model": "pro"}, "pro", "vllm"),  # a path: the caller names the checkpoint
        ({"model": "pro", "engine": "llama.cpp"}, "pro", "llamacpp"),
    ],
)
def test_the_target_comes_from_explicit_names_then_the_plan(kwargs, model, engine):
    from v4doctor.api import facts_for

    target = facts_for(**kwargs).target
    assert (target.model, target.engine) == (model, engine)


def test_the_posted_plan_outranks_the_snapshot_target_but_keeps_its_host_facts():
    from v4doctor.api import facts_for

    facts = facts_for(json.loads(SNAPSHOT.read_text()), cmd="vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8")
    assert facts.target.model == "deepseek-ai/DeepSeek-V4-Pro" and facts.target.cmd[:2] == ["vllm", "serve"]
    assert facts.source == "snapshot" and facts.gpu.devices  # the posted host, not this one


def test_inline_compose_text_is_kept_and_has_no_path():
    from v4doctor.api import facts_for
    from v4doctor.facts import known

    text = (ROOT_LAUNCH / "guide-option-b-flash.yaml").read_text()
    target = facts_for(compose=text).target
    assert target.compose_text == text and not known(target.compose_path)


ROOT_LAUNCH = HOSTS.parent / "launch"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda c: c(), "give a facts snapshot"),
        (lambda c: c(model="flash", engine="tensorrt"), "unknown engine"),
        (lambda c: c(model="v3"), "unknown model"),
        (lambda c: c(cmd="vllm serve /models/v4"), "not a checkpoint v4doctor knows"),
        (lambda c: c({"target": {}}), "snapshot: facts schema_version"),
        (lambda c: c({"schema_version": 1, "target": {"model": 3, "engine": "vllm"}}), "facts.target.model"),
        (lambda c: c(cmd="vllm serve 'open quote"), "cannot parse"),
    ],
)
def test_bad_input_is_a_usage_error_with_one_clear_line(call, message):
    from v4doctor import check

    with pytest.raises(UsageError) as err:
        call(check)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_diagnose_returns_the_diagnosis_dataclass():
    from v4doctor import diagnose

    result = diagnose((LOGS / "a-vllm-kv-cache-too-small.log").read_text())
    data = result.to_dict()
    assert data["healthy"] is False and "kv_cache_too_small" in [d["category"] for d in data["diagnoses"]]
    with pytest.raises(UsageError):
        diagnose(b"bytes are not a log")


@pytest.mark.parametrize("text, kind", [("vllm serve x", "cmd"), ("# c\nservices:\n  vllm:\n    image: x\n", "compose"), ("  services: no", "cmd")])
def test_fix_guesses_what_the_text_is(text, kind):
    from v4doctor.api import guess_kind

    assert guess_kind(text) == kind


def test_fix_delegates_to_the_launch_fixer_or_names_what_is_missing():
    from v4doctor import fix
    from v4doctor.api import FeatureUnavailable

    with pytest.raises(UsageError):
        fix("   ")
    with pytest.raises(UsageError):
        fix("vllm serve x", kind="yaml")
    try:
        result = fix("vllm serve deepseek-ai/DeepSeek-V4-Flash --max-model-len 2000000")
    except FeatureUnavailable as exc:
        assert exc.feature == "launch-plan fixing" and "v4doctor.repair.propose.propose" in str(exc)
        return
    assert result.changed and "--max-model-len" in result.diff
