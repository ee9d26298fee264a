"""`v4doctor plan`: every plan it prints passes `run` on the same host, uses only flags the engine version
accepts, matches `run`'s own fit numbers, and the JSON / exit codes are as docs/plan.md says."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex

import pytest

from tests.conftest import FIXTURES, HOSTS, load_host, run_cli
from v4doctor.errors import UsageError
from v4doctor.facts import TargetFacts
from v4doctor.judge.doctor import judge
from v4doctor.knowledge.kb import load
from v4doctor.planner import Goal, hypothetical, plan

FACT_HOSTS = sorted(p.name for p in HOSTS.glob("*.json") if "gpu" in json.loads(p.read_text()))  # snapshots, not reports
PLAN_KEYS = {"rank", "model", "engine", "engine_version", "image", "layout", "max_model_len", "kv_cache_dtype", "kv_tokens",
             "max_concurrency", "weights_gib_per_gpu", "command", "docker_run", "compose", "why"}


def _errors(facts, plan_, form: str) -> list[str]:
    """Error-level findings of `run` on the host with the plan given as a command, a docker run line or a compose file."""
    if form == "compose":
        target = TargetFacts(model=plan_.model, engine=plan_.engine, compose_text=plan_.compose, engine_version=plan_.engine_version)
    else:
        target = TargetFacts(model=plan_.model, engine=plan_.engine, cmd=shlex.split(getattr(plan_, form)), engine_version=plan_.engine_version)
    report = judge(dataclasses.replace(facts, target=target))
    return [f"{f.id} {f.title}" for f in report.findings if f.severity.value == "error"]


@pytest.mark.parametrize("host", FACT_HOSTS)
def test_every_plan_on_every_host_fixture_passes_run(host):
    """The issue's contract: a printed plan has no error-level finding in `run`, in all three forms."""
    facts = load_host(host)
    result = plan(facts, Goal(ignore=("disk",) if host.startswith("h200-x1") else ()))
    for p in result.plans:
        for form in ("command", "docker_run", "compose"):
            if p.command is None and form == "command":
                assert any("run it in the image" in w for w in p.why)  # the host's own engine fails run: said, not printed
                continue
            errors = [e for e in _errors(facts, p, form) if not e.startswith("V4D211")]  # the h200-x1 reading: 64 GiB free
            assert not errors, (host, p.rank, form, errors)
    assert result.plans or result.suggestion, "nothing fits, and no smallest change named"


@pytest.mark.parametrize("gpus,goal", [
    ("8xH200", Goal(model="flash", context=131072, concurrency=16)),
    ("8xH200", Goal(model="pro")),
    ("8xB200", Goal(model="flash", prefer="concurrency")),
    ("8xB200", Goal(model="pro", prefer="latency")),
    ("4xH200", Goal(engine="sglang", prefer="concurrency")),
    ("2xRTX-PRO-6000", Goal(model="flash", context=65536)),
    ("8xH100", Goal(model="flash", engine="vllm", prefer="latency")),
])
def test_hypothetical_hosts_plans_pass_run(gpus, goal):
    kb = load()
    facts = hypothetical(gpus, kb, ram_gib=1024, disk_gib=4000, driver="580.65.06")
    result = plan(facts, goal)
    assert result.plans, result.rejected
    for p in result.plans:
        for form in ("command", "docker_run", "compose"):
            assert not _errors(facts, p, form), (gpus, p.command)


# --------------------------------------------------------------------------- vLLM 0.33.0's flag table as a parser
def _parser_from_table(version: str) -> tuple[argparse.ArgumentParser, dict]:
    """An argparse parser built from the committed `vllm serve --help=all` table: names, values, strict choices."""
    from v4doctor.launch.flags import table

    t = table("vllm", version)
    assert t.version == version
    parser = argparse.ArgumentParser(prog="vllm serve", add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("model_tag")
    for key, rec in t.flags.items():
        if rec["value"]:
            parser.add_argument(*rec["names"], dest=key, choices=rec["choices"] if rec["strict"] else None)
        else:
            parser.add_argument(*rec["names"], dest=key, action="store_true")
            if rec["negations"]:
                parser.add_argument(*rec["negations"], dest=key, action="store_false")
    return parser, t.flags


def _vllm_args(command: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[:2] == ["vllm", "serve"]
    return argv[2:]


def _check_vllm(command: str, version: str = "0.33.0") -> None:
    parser, flags = _parser_from_table(version)
    args, dotted = [], []
    for a in _vllm_args(command):
        if a.startswith("--") and "." in a.split("=")[0]:
            dotted.append(a)
        else:
            args.append(a)
    _, unknown = parser.parse_known_args(args)  # a bad strict choice raises argparse.ArgumentError
    assert not unknown, f"flags vLLM {version} does not know: {unknown}"
    for a in dotted:  # --attention-config.indexer_kv_dtype=mxfp4: the flag and its config field
        head, field = a[2:].split("=")[0].split(".", 1)
        assert field in (flags[head]["fields"] or []), a


def test_the_table_parser_rejects_what_vllm_rejects():
    """The check can fail: an unknown flag, a bad strict choice and a dropped field are refused."""
    with pytest.raises(AssertionError):
        _check_vllm("vllm serve m --no-such-flag 1")
    with pytest.raises(argparse.ArgumentError):
        _check_vllm("vllm serve m --tool-call-parser deepseek_v9")
    with pytest.raises(AssertionError):
        _check_vllm("vllm serve m --attention-config.use_fp4_indexer_cache=True")  # rejected by 0.33 (review §4b)


@pytest.mark.parametrize("gpus", ["8xH200", "8xB200", "4xH200", "8xH100", "2xRTX-PRO-6000", "1xB300", "1xGB300"])
@pytest.mark.parametrize("prefer", ["context", "concurrency", "latency"])
def test_every_vllm_command_is_accepted_by_the_0_33_flag_set(gpus, prefer):
    result = plan(hypothetical(gpus, load()), Goal(engine="vllm", prefer=prefer, top=5))
    assert result.plans, result.rejected
    for p in result.plans:
        _check_vllm(p.command)


# --------------------------------------------------------------------------- the numbers are run's numbers
@pytest.mark.parametrize("gpus,goal", [("8xH200", Goal(model="flash", engine="vllm", context=131072, concurrency=8)),
                                       ("4xH200", Goal(model="flash", engine="sglang", context=65536)),
                                       ("8xB200", Goal(model="pro", engine="vllm"))])
def test_plan_numbers_are_the_fit_run_computes(gpus, goal):
    from v4doctor.judge.context import Context

    facts = hypothetical(gpus, load())
    p = plan(facts, goal).plans[0]
    target = TargetFacts(model=p.model, engine=p.engine, cmd=shlex.split(p.command), engine_version=p.engine_version)
    ctx = Context(dataclasses.replace(facts, target=target))  # as `run --engine-version V` judges it: the plan is sized for V
    fit = ctx.fit
    assert fit.max_model_len == p.max_model_len
    assert abs(fit.weights_gib_per_gpu - p.weights_gib_per_gpu) < 0.01
    assert (fit.tp, fit.dp, fit.pp, fit.ep) == (p.layout["tp"], p.layout["dp"], p.layout["pp"], p.layout["ep"])
    assert fit.max_model_len_fits >= p.max_model_len


# --------------------------------------------------------------------------- ranking, goals, hosts
def test_preferences_change_the_top_plan():
    facts = hypothetical("8xH200", load())
    ctx = plan(facts, Goal(model="flash", engine="vllm")).plans[0]
    conc = plan(facts, Goal(model="flash", engine="vllm", prefer="concurrency", context=131072)).plans[0]
    fast = plan(facts, Goal(model="flash", engine="vllm", prefer="latency")).plans[0]
    assert ctx.max_model_len == 1_048_576  # the longest first
    assert conc.layout == {"tp": 1, "dp": 8, "pp": 1, "ep": True, "nodes": 1}  # one KV pool per GPU
    tp8 = plan(facts, Goal(model="flash", engine="vllm", prefer="concurrency", context=131072, top=10)).plans
    assert conc.max_concurrency == max(p.max_concurrency for p in tp8)
    assert '"method":"mtp","num_speculative_tokens":1' in fast.command  # Hopper: 1 draft token (recipe override)
    second = plan(facts, Goal(model="flash", engine="vllm")).plans[1]
    assert second.why[0].startswith("below #1: the same context, fewer requests")
    assert fast.layout["dp"] == 1 and fast.layout["tp"] == 8


def test_goal_that_cannot_fit_names_the_gap_and_the_smallest_change():
    result = plan(hypothetical("8xH200", load()), Goal(model="pro", engine="vllm", context=1_048_576, concurrency=64))
    assert not result.plans
    assert any("the goal needs 64 request(s) at 1,048,576" in r["why"] for r in result.rejected)
    assert result.suggestion and "would run deepseek-ai/DeepSeek-V4-Pro on vllm" in result.suggestion


def test_laptop_and_v100_get_an_honest_nothing_fits():
    laptop = plan(load_host("laptop-nogpu.json"), Goal())
    assert not laptop.plans and "GGUF" in " ".join(r["why"] for r in laptop.rejected + [{"why": laptop.suggestion}])
    v100 = plan(load_host("8xv100.json"), Goal(engine="vllm"))
    assert not v100.plans
    assert any("SM70" in r["why"] for r in v100.rejected)
    assert all(p.engine == "llamacpp" for p in plan(load_host("8xv100.json"), Goal()).plans)  # llama.cpp runs on Volta (gpus.toml)


def test_amd_gpus_are_not_given_nvidia_commands():
    result = plan(hypothetical("8xMI355X", load(), ram_gib=1024), Goal())
    assert not result.plans and all("ROCm" in r["why"] or "NVIDIA" in r["why"] for r in result.rejected[:3])


def test_busy_gpus_lower_the_memory_fraction():
    facts = hypothetical("8xH200", load())
    for d in facts.gpu.devices:
        d.memory_used_bytes = int(d.memory_total_bytes * 0.2)
    p = plan(facts, Goal(model="flash", engine="vllm")).plans[0]
    assert "--gpu-memory-utilization 0.78" in p.command


def test_old_driver_gets_the_cuda_12_9_image():
    p = plan(hypothetical("8xH100", load(), driver="570.172.08"), Goal(model="flash", engine="vllm")).plans[0]
    assert p.image == "vllm/vllm-openai:v0.33.0-cu129"


REAL_H200 = [HOSTS / "h200-x1.json", HOSTS / "h200-x1-device.json", FIXTURES / "plan" / "h200-x1-device-2026-12-03.json"]


@pytest.mark.parametrize("path", REAL_H200, ids=lambda p: p.name)
def test_real_h200_readings_disk_blocks_until_ignored_like_run(path):
    """The real 1x H200 readings have 64 GiB free: `run` errors on the download (V4D211), so plan prints nothing;
    with --ignore disk, Flash's weights (145 GiB) exceed one H200 for vLLM/SGLang and llama.cpp offloads experts."""
    from v4doctor.facts import facts_from_json

    facts = facts_from_json(json.loads(path.read_text()))
    blocked = plan(facts, Goal())
    assert not blocked.plans and blocked.suggestion.startswith("V4D211")
    freed = plan(facts, Goal(ignore=("disk",)))
    assert freed.plans and freed.plans[0].engine == "llamacpp" and freed.plans[0].command.startswith("llama-server -hf unsloth/")
    for p in freed.plans:
        assert not [e for e in _errors(facts, p, "docker_run") if not e.startswith("V4D211")]


def test_every_package_ships_in_the_wheel():
    """pyproject lists packages by hand: a layer folder left out (the planner was) is missing from the installed tool."""
    import re

    from tests.conftest import ROOT

    listed = set(re.search(r"^packages = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), re.M).group(1).replace('"', "").split(", "))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "v4doctor").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


def test_users_engine_version_and_image_are_kept():
    facts = hypothetical("8xH200", load())
    p = plan(facts, Goal(model="flash", engine="vllm", engine_version="0.26.0")).plans[0]
    assert p.engine_version == "0.26.0" and p.image == "vllm/vllm-openai:v0.26.0"
    assert "indexer_kv_dtype" not in p.command
    q = plan(facts, Goal(model="flash", image="vllm/vllm-openai:v0.28.0-cu129")).plans[0]
    assert q.image == "vllm/vllm-openai:v0.28.0-cu129" and q.engine_version == "0.28.0"


@pytest.mark.parametrize("kwargs", [dict(prefer="fast"), dict(engine="trt"), dict(context=0), dict(concurrency=0), dict(top=0), dict(model=" ")])
def test_bad_goal_is_a_usage_error(kwargs):
    with pytest.raises(UsageError):
        Goal(**kwargs)


@pytest.mark.parametrize("gpus", ["8", "xH200", "8xNOPE", "0xH200", "999xH200"])
def test_bad_gpus_is_a_usage_error(gpus):
    with pytest.raises(UsageError):
        hypothetical(gpus, load())


# --------------------------------------------------------------------------- CLI
def test_cli_json_is_the_documented_shape():
    r = run_cli("plan", "--gpus", "8xH200", "--model", "flash", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert set(data) == {"schema_version", "host", "goal", "plans", "rejected", "suggestion"}
    assert data["schema_version"] == 1 and data["host"]["gpus"] == 8 and data["goal"]["model"] == "flash"
    assert all(PLAN_KEYS <= set(p) for p in data["plans"]) and [p["rank"] for p in data["plans"]] == [1, 2, 3]
    assert set(data["plans"][0]["layout"]) == {"tp", "dp", "pp", "ep", "nodes"}
    assert all(set(r) == {"what", "why"} for r in data["rejected"])


@pytest.mark.parametrize("argv,code", [
    (["--gpus", "8xH200"], 0),
    (["--gpus", "2xRTX-4090", "--ram-gib", "64"], 1),
    (["--facts", str(HOSTS / "laptop-nogpu.json")], 1),
    (["--gpus", "8xH200", "--prefer", "fast"], 2),
    (["--gpus", "8xNOPE"], 2),
    (["--gpus", "8xH200", "--context", "-5"], 2),
    (["--gpus", "8xH200", "--engine-version", "0.33.0"], 2),
    (["--facts", str(HOSTS / "4xh200.json"), "--ram-gib", "10"], 2),
    (["--gpus", "8xH200", "--facts", str(HOSTS / "4xh200.json")], 2),
    (["--gpus", "8xH200", "--ignore", "V4D999"], 2),
    (["--gpus", "8xH200", "--model", "deepseek-ai/Nope"], 2),
])
def test_cli_exit_codes(argv, code):
    r = run_cli("plan", *argv)
    assert r.code == code, (r.out, r.err)
    if code == 2:
        assert r.err.startswith("v4doctor: error:") and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_markdown_answer_has_the_commands_to_paste():
    r = run_cli("plan", "--gpus", "4xH200", "--model", "flash", "--format", "markdown", "--top", "1")
    assert r.code == 0
    assert r.out.startswith("### v4doctor plan: 4× NVIDIA H200") and "```bash\ndocker run --gpus all --ipc=host" in r.out
    assert "```yaml\nservices:" in r.out and "<summary>Rejected</summary>" in r.out


def test_cli_as_a_subprocess():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "v4doctor", "plan", "--gpus", "1xGB300", "--model", "flash", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["plans"][0]["layout"]["tp"] == 1
