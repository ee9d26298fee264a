"""POST /v1/plan over real HTTP: the same JSON as `plan --json`, the same limits and redaction as the other routes,
and never this server's own host."""

from __future__ import annotations

import json

import pytest
import requests

from conftest import HOSTS, run_cli
from server_harness import LiveServer

pytest.importorskip("fastapi")

TOKEN = "hf_abcdefghijklmnopqrstu"


@pytest.fixture(scope="module")
def server():
    with LiveServer(max_body_bytes=64 * 1024) as s:
        yield s


def post(server, payload, **kw):
    return requests.post(server.url + "/v1/plan", json=payload, timeout=60, **kw)


def test_plan_answers_what_the_cli_prints(server):
    r = post(server, {"gpus": "8xH200", "model": "flash", "context": 131072, "concurrency": 8})
    assert r.status_code == 200, r.text
    cli = run_cli("plan", "--gpus", "8xH200", "--model", "flash", "--context", "131072", "--concurrency", "8", "--json")
    assert r.json() == cli.json()


def test_plan_of_a_posted_snapshot(server):
    snap = json.loads((HOSTS / "4xh200.json").read_text())
    r = post(server, {"snapshot": snap, "model": "flash", "top": 1})
    assert r.status_code == 200, r.text
    assert r.json()["host"]["gpus"] == 4 and len(r.json()["plans"]) == 1


def test_plan_never_reads_the_servers_own_host(server):
    r = post(server, {"model": "flash"})
    assert r.status_code == 422 and "gpus" in r.json()["error"]


@pytest.mark.parametrize("payload", [{"gpus": "8xNOPE"}, {"gpus": "8xH200", "prefer": "fast"}, {"gpus": "8xH200", "context": 0},
                                     {"gpus": "8xH200", "surprise": 1}, {"gpus": "8xH200", "ignore": ["V4D999"]}])
def test_bad_plan_requests_are_422(server, payload):
    r = post(server, payload)
    assert r.status_code == 422, r.text
    assert "Traceback" not in r.text


def test_markdown_answer_and_redaction(server):
    r = post(server, {"gpus": "4xH200", "model": "flash", "top": 1, "image": f"vllm/vllm-openai:v0.33.0-{TOKEN}"},
             headers={"Accept": "text/markdown"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/markdown")
    assert "```bash\ndocker run" in r.text and TOKEN not in r.text
    j = post(server, {"gpus": "4xH200", "model": "flash", "top": 1, "image": f"vllm/vllm-openai:v0.33.0-{TOKEN}"})
    assert TOKEN not in j.text


def test_body_limit_applies(server):
    r = requests.post(server.url + "/v1/plan", data=b"{" + b" " * (70 * 1024) + b"}", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
