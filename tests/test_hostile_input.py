"""Issue #16: what an attack on v4doctor found, each case a test. Bad input is a one-line
usage error (exit 2) or an ordinary answer, never an internal error; JSON is strict."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from v4doctor.errors import UsageError
from v4doctor.launch import parse_command, parse_compose
from v4doctor.launch.parse import MAX_ARGS
from v4doctor.output.render import to_json

_OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {t} GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.2 GiB is free."
_ARGS = "INFO 04-24 10:11:12 [api_utils.py:273] non-default args: {}"
CRASHES = {
    "dotted size": _OOM.format(t="1.2.3"),
    "400-digit free memory": "ValueError: Free memory on device ({n}/{n} GiB) on startup is less than desired GPU memory utilization (0.9, 71.3 GiB).".format(n="9" * 400),
    "model is a number": _ARGS.format("{'model': 7}"),
    "5000-digit device": "Device " + "7" * 5000 + ": NVIDIA H200, compute capability 9.0, VMM: yes",
    "1e999": _ARGS.format("{'model': 'deepseek-ai/DeepSeek-V4-Flash', 'max_model_len': 1e999}"),
    "nan": _ARGS.format("{'model': 'deepseek-ai/DeepSeek-V4-Flash', 'gpu_memory_utilization': 1e-99999}"),
}


@pytest.mark.parametrize("name", list(CRASHES))
def test_the_crash_list_gives_an_answer_and_strict_json(name):
    r = run_cli("diagnose", "--text", CRASHES[name], "--json")
    assert r.code in (0, 1), r.err
    json.loads(r.out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))


def test_json_output_never_has_nan_or_infinity():
    out = to_json({"a": float("inf"), "b": [float("nan"), 1.5], "c": {"d": -float("inf")}})
    assert json.loads(out) == {"a": None, "b": [None, 1.5], "c": {"d": None}}


_BOMB = "".join(f"x-{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n" for c, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"]))
_BOMB += "services:\n  vllm:\n    image: vllm/vllm-openai:v0.20.0\n    command: *g\n"


def test_a_yaml_alias_bomb_is_a_usage_error(tmp_path):
    assert len(_BOMB) < 700
    with pytest.raises(UsageError, match="more than 100000 YAML nodes"):
        parse_compose(_BOMB)
    (tmp_path / "c.yml").write_text(_BOMB)
    for cmd in (("fix", "--compose"), ("run", "--compose")):
        r = run_cli(*cmd, str(tmp_path / "c.yml"))
        assert r.code == 2 and "alias bomb" in r.err and "internal" not in r.err, r.err


def test_ordinary_anchors_and_merge_keys_still_work():
    spec = parse_compose("x-common: &common\n  image: vllm/vllm-openai:v0.20.0\n  shm_size: 16g\n"
                         "services:\n  vllm:\n    <<: *common\n    command: [\"--model\", \"deepseek-ai/DeepSeek-V4-Flash\"]\n")
    assert spec.image == "vllm/vllm-openai:v0.20.0" and spec.model == "deepseek-ai/DeepSeek-V4-Flash"


def test_too_many_words_in_a_command_is_refused_naming_the_limit():
    words = ["vllm", "serve", "m"] + [f"--unknown-{i}" for i in range(MAX_ARGS)]
    with pytest.raises(UsageError, match=f"at most {MAX_ARGS}"):
        parse_command(words)
    r = run_cli("fix", "--cmd", " ".join(words))
    assert r.code == 2 and "MAX_ARGS" in r.err


def test_too_many_services_is_refused():
    text = "services:\n" + "".join(f"  s{i}:\n    image: busybox\n" for i in range(201))
    with pytest.raises(UsageError, match="201 services; at most 200"):
        parse_compose(text)


def test_a_did_you_mean_without_a_value_is_not_corrected_into_a_broken_command():
    data = run_cli("fix", "--cmd", "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8 --max-num-batchd-tokens", "--json").json()
    assert "--max-num-batched-tokens" not in (data.get("after") or "")
    data = run_cli("fix", "--cmd", "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8 --max-num-batchd-tokens 8192", "--json").json()
    assert "--max-num-batched-tokens 8192" in data["after"]


def test_a_looping_cache_symlink_loses_only_that_disk(tmp_path):
    from v4doctor.collect import system

    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    facts = system.collect([str(tmp_path / "a" / "hub"), str(tmp_path)])
    looped, fine = facts.disks
    assert "cannot resolve" in looped.free_bytes.reason and isinstance(fine.free_bytes, int)
    assert isinstance(facts.cpu_count, int)


def test_an_unreadable_meminfo_says_why(tmp_path):
    from v4doctor.collect import system

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "meminfo").mkdir()  # reading a directory fails like an unreadable file: the reason is kept
    facts = system.collect(root=str(tmp_path))
    assert facts.ram_total_bytes.reason.startswith("cannot read /proc/meminfo")
