"""Every vLLM command `plan` prints is accepted by vLLM 0.33.0's own CLI parser.

Needs a separate environment with the real vLLM (never the CI suite's): set V4DOCTOR_VLLM_PYTHON to its
python, e.g. `python -m venv /work/venv-vllm && /work/venv-vllm/bin/pip install vllm==0.33.0`, then
`V4DOCTOR_VLLM_PYTHON=/work/venv-vllm/bin/python python -m pytest tests/test_plan_vllm_parser.py`.
Without it the test is skipped; tests/test_plan.py checks the same commands against the committed
`vllm serve --help=all` table of 0.33.0.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from v4doctor.knowledge.kb import load
from v4doctor.planner import Goal, hypothetical, plan

PYTHON = os.environ.get("V4DOCTOR_VLLM_PYTHON")
PROBE = Path(__file__).with_name("vllm_parser_probe.py")
HOSTS = ["8xH200", "8xB200", "4xH200", "8xH100", "2xRTX-PRO-6000", "1xB300", "1xGB300", "2xH20"]


def _commands() -> list[str]:
    out = []
    for gpus in HOSTS:
        for prefer in ("context", "concurrency", "latency"):
            for model in ("flash", "pro", "flash-0731"):
                result = plan(hypothetical(gpus, load()), Goal(model=model, engine="vllm", prefer=prefer, top=5))
                out += [p.command for p in result.plans if p.command]
    return sorted(set(out))


@pytest.mark.skipif(not PYTHON or not Path(PYTHON).exists(), reason="V4DOCTOR_VLLM_PYTHON (a python with vllm==0.33.0) not set")
def test_vllm_033_parser_accepts_every_planned_command():
    commands = _commands()
    assert len(commands) >= 20
    done = subprocess.run([PYTHON, str(PROBE)], input=json.dumps(commands), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["vllm"].startswith("0.33.0")
    bad = [r for r in report["results"] if not r["ok"]]
    assert not bad, bad[:5]
    assert len(report["results"]) == len(commands)


@pytest.mark.skipif(not PYTHON or not Path(PYTHON).exists(), reason="V4DOCTOR_VLLM_PYTHON (a python with vllm==0.33.0) not set")
def test_the_probe_rejects_what_vllm_rejects():
    """The check can fail: an unknown flag, and the recipe's FP4-indexer spelling that 0.33 removed (review §4b)."""
    cases = {"vllm serve m --no-such-flag 1": False, "vllm serve m --attention-config.use_fp4_indexer_cache=True": False,
             "vllm serve m --attention-config.indexer_kv_dtype=mxfp4": True}
    done = subprocess.run([PYTHON, str(PROBE)], input=json.dumps(list(cases)), capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {r["command"]: r["ok"] for r in report["results"]} == cases, report
