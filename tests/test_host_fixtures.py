"""Judge every spec host fixture for Flash and Pro on vLLM, SGLang and llama.cpp, and assert what a
knowledgeable operator expects. Only the host checks (V4D1xx/V4D2xx) are selected, so checks that
other areas add later cannot change these verdicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from check_cases import host
from conftest import HOSTS, ROOT, run_cli
from v4doctor.judge.doctor import judge

HOST_CHECKS = ["V4D1", "V4D2"]
FIXTURES = ["8xh100-80g", "4xh200", "8xb200", "1xa100-80g", "2xrtx4090", "2xrtxpro6000", "8xv100",
            "driver570-vllm020-cu130", "laptop-nogpu"]

# (fixture, model, engine) -> (error ids, warning ids that must be there, why)
EXPECT = {
    ("8xh100-80g", "flash", "vllm"): (set(), set(), "Flash (149 GiB) runs on 8×H100 (4×H100 TP=4 is reported working)"),
    ("8xh100-80g", "pro", "vllm"): ({"V4D210"}, set(), "Pro is 805 GiB; 8×H100 hold ~637 GiB"),
    ("8xh100-80g", "pro", "sglang"): ({"V4D210"}, set(), "same weights on SGLang"),
    ("8xh100-80g", "flash", "llamacpp"): (set(), set(), "llama.cpp b9840 with a GGUF"),
    ("4xh200", "flash", "sglang"): (set(), set(), "4×H200 is SGLang's verified Flash setup"),
    ("4xh200", "pro", "vllm"): ({"V4D210"}, set(), "the guide's 4×H200 for Pro: ~562 GiB < 805 GiB"),
    ("8xb200", "pro", "vllm"): (set(), set(), "8×B200 is the vLLM blog's Pro setup"),
    ("8xb200", "flash", "sglang"): (set(), set(), "Blackwell, SGLang 0.5.12"),
    ("1xa100-80g", "flash", "vllm"): ({"V4D111", "V4D210"}, set(), "A100: neither the memory nor the architecture"),
    ("1xa100-80g", "flash", "sglang"): ({"V4D111", "V4D210"}, set(), "same on SGLang"),
    ("1xa100-80g", "flash", "llamacpp"): (set(), set(), "80 GB VRAM + 128 GB RAM: GGUF offload is the way"),
    ("2xrtx4090", "flash", "vllm"): ({"V4D111", "V4D210"}, {"V4D115"}, "Ada, 48 GB, no P2P"),
    ("2xrtx4090", "flash", "llamacpp"): ({"V4D212"}, set(), "the guide's 2×4090 + 64 GB RAM cannot hold the 155 GB Q4"),
    ("2xrtxpro6000", "flash", "vllm"): (set(), {"V4D210"}, "SM120 on vLLM 0.33; fits with little KV room"),
    ("2xrtxpro6000", "flash", "sglang"): (set(), {"V4D111", "V4D210"}, "SGLang on SM120 needs the :dev image"),
    ("2xrtxpro6000", "pro", "vllm"): ({"V4D210"}, set(), "Pro does not fit 2×96 GB"),
    ("8xv100", "flash", "vllm"): ({"V4D111"}, set(), "Volta: never, although the weights would fit 256 GB"),
    ("8xv100", "pro", "sglang"): ({"V4D111", "V4D210"}, set(), "Volta, and Pro does not fit"),
    ("8xv100", "flash", "llamacpp"): (set(), set(), "llama.cpp runs anywhere"),
    ("driver570-vllm020-cu130", "flash", "vllm"): ({"V4D102"}, set(), "R570 driver, vLLM 0.20 CUDA 13 build"),
    ("driver570-vllm020-cu130", "flash", "llamacpp"): (set(), set(), "llama.cpp is not tied to torch's CUDA 13"),
    ("h200-x1", "flash", "vllm"): ({"V4D210", "V4D211"}, set(), "real H200 reading: 140 GiB < 149 GiB of Flash; 64 GiB free at /"),
    ("h200-x1", "flash", "llamacpp"): ({"V4D211"}, set(), "real H200 + 126 GiB RAM hold the Q4 GGUF, but / has 64 GiB free"),
    ("laptop-nogpu", "flash", "vllm"): ({"V4D101"}, set(), "no GPU: vLLM cannot run"),
    ("laptop-nogpu", "pro", "sglang"): ({"V4D101", "V4D211"}, set(), "no GPU, and 200 GB of disk for 865 GB"),
    ("laptop-nogpu", "flash", "llamacpp"): ({"V4D212"}, set(), "CPU-only llama.cpp needs the GGUF in 32 GiB of RAM"),
}


def _ids(report, severity):
    return {f.id for f in report.findings if f.severity.value == severity}


@pytest.mark.parametrize("key", list(EXPECT), ids=["-".join(k) for k in EXPECT])
def test_operator_expectation(key):
    name, model, engine = key
    errors, warnings, why = EXPECT[key]
    report = judge(host(name, model=model, engine=engine), select=HOST_CHECKS)
    assert _ids(report, "error") == errors, why
    assert warnings <= _ids(report, "warning"), why


@pytest.mark.parametrize("name", FIXTURES)
@pytest.mark.parametrize("model", ["flash", "pro"])
@pytest.mark.parametrize("engine", ["vllm", "sglang", "llamacpp"])
def test_every_combination_runs_clean(name, model, engine):
    """No check crashes on any fixture, every finding names its check, and errors carry a fix."""
    report = judge(host(name, model=model, engine=engine), select=HOST_CHECKS)
    assert not any("crashed" in f.title for f in report.findings)
    for f in report.findings:
        assert f.id.startswith("V4D") and f.category
        if f.severity.value == "error":
            assert f.fix and f.fix.text and f.troubleshooting


def test_fixtures_are_fresh_builds():
    """The committed spec fixtures are exactly what tools/make_spec_fixtures.py builds."""
    sys.path.insert(0, str(ROOT / "tools"))
    import make_spec_fixtures

    assert make_spec_fixtures.main(["--check"]) == 0


def test_cli_in_process_json():
    r = run_cli("run", "--facts", str(HOSTS / "8xh100-80g.json"), "--model", "pro", "--json", "--select", "V4D1,V4D2")
    assert r.code == 1, r.err
    data = r.json()
    assert data["target"]["model_repo"] == "deepseek-ai/DeepSeek-V4-Pro"
    (fit,) = [f for f in data["findings"] if f["id"] == "V4D210"]
    assert fit["severity"] == "error" and fit["troubleshooting"] == "weights-do-not-fit"
    assert data["summary"]["ready"] is False


def test_cli_in_process_ready_host_exits_0():
    r = run_cli("run", "--facts", str(HOSTS / "8xb200.json"), "--model", "pro", "--json", "--select", "V4D1,V4D2")
    assert r.code == 0 and r.json()["summary"]["error"] == 0


def test_console_script_subprocess():
    exe = os.path.join(os.path.dirname(sys.executable), "v4doctor")
    proc = subprocess.run([exe, "run", "--facts", str(HOSTS / "1xa100-80g.json"), "--json", "--select", "V4D1,V4D2"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert {f["id"] for f in data["findings"] if f["severity"] == "error"} == {"V4D111", "V4D210"}
