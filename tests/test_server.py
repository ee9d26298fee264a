"""The HTTP API over real HTTP: a uvicorn server on 127.0.0.1, called with requests/httpx."""

from __future__ import annotations

import json

import httpx
import pytest
import requests

from conftest import HOSTS, LOGS, run_cli
from server_harness import AccessLog, LiveServer

pytest.importorskip("fastapi")

TOKEN = "hf_abcdefghijklmnopqrstu"  # a Hugging Face token shape: must never come back
KV_LOG = LOGS / "a-vllm-kv-cache-too-small.log"


@pytest.fixture(scope="module")
def server():
    with LiveServer(max_body_bytes=64 * 1024) as s:
        yield s


def post(server, path, payload=None, **kw):
    return requests.post(server.url + path, json=payload, timeout=30, **kw)


# --------------------------------------------------------------------------- routes
def test_healthz_reports_version_and_features(server):
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["features"]["check"] is True
    assert set(body["features"]) == {"diagnose", "check", "fix"}


def test_openapi_describes_every_route(server):
    spec = requests.get(server.url + "/openapi.json", timeout=5).json()
    assert {"/v1/diagnose", "/v1/check", "/v1/fix", "/v1/troubleshooting", "/v1/checks", "/healthz"} <= set(spec["paths"])
    content = spec["paths"]["/v1/diagnose"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "text/plain"} == set(content)
    assert "413" in spec["paths"]["/v1/check"]["post"]["responses"]


def test_diagnose_answers_the_same_json_as_the_library_for_json_multipart_and_plain_text(server):
    from v4doctor import diagnose
    from v4doctor.output.render import redact

    text = KV_LOG.read_text()
    expected = redact(diagnose(text).to_dict())
    by_json = post(server, "/v1/diagnose", {"text": text})
    by_file = requests.post(server.url + "/v1/diagnose", files={"file": ("vllm.log", text.encode())}, timeout=30)
    by_plain = requests.post(server.url + "/v1/diagnose", data=text.encode(), headers={"Content-Type": "text/plain"}, timeout=30)
    for r in (by_json, by_file, by_plain):
        assert r.status_code == 200, r.text
        assert r.json() == expected
    assert expected["healthy"] is False and "kv_cache_too_small" in [d["category"] for d in expected["diagnoses"]]


def test_diagnose_cli_and_http_agree(server, tmp_path):
    cli = run_cli("diagnose", str(KV_LOG), "--json")
    if cli.code == 2 and "invalid choice" in cli.err:
        pytest.skip("the diagnose command is not in this build yet")
    assert post(server, "/v1/diagnose", {"text": KV_LOG.read_text()}).json() == cli.json()


def test_check_answers_the_same_json_as_run_facts(server):
    snapshot = json.loads((HOSTS / "h200-x1.json").read_text())
    r = post(server, "/v1/check", {"snapshot": snapshot})
    assert r.status_code == 200, r.text
    cli = run_cli("run", "--facts", str(HOSTS / "h200-x1.json"), "--json")
    assert r.json() == cli.json()


def test_check_a_launch_command_without_a_snapshot_judges_only_the_plan(server):
    r = post(server, "/v1/check", {"cmd": "vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 8", "engine": "vllm"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["target"]["source"] == "spec" and body["target"]["model_repo"] == "deepseek-ai/DeepSeek-V4-Flash"
    host_findings = [f for f in body["findings"] if f["category"] in ("gpu", "driver", "system", "disk", "docker")]
    assert host_findings, "the host checks ran, on the absence of host facts"
    for f in host_findings:  # each stands on "not in the posted snapshot", never on this server's own host
        assert f["severity"] == "skipped" or "not in the posted snapshot" in f["title"] + f["detail"], f


@pytest.mark.parametrize(
    "payload, message",
    [
        ({}, "give a facts snapshot"),  # nothing to judge
        ({"model": "flash", "engine": "tensorrt"}, "unknown engine"),
        ({"model": "no-such-model"}, "unknown model"),
        ({"snapshot": {"target": {"model": "flash"}, "schema_version": 99}}, "schema_version"),
        ({"cmd": "vllm serve 'unterminated"}, "cannot parse"),
    ],
)
def test_check_rejects_input_the_library_rejects_with_422(server, payload, message):
    r = post(server, "/v1/check", payload)
    assert r.status_code == 422, r.text
    assert message in r.json()["error"]


def test_fix_is_503_naming_the_feature_when_it_is_missing_else_a_patch(server):
    r = post(server, "/v1/fix", {"text": "vllm serve deepseek-ai/DeepSeek-V4-Flash --max-model-len 2000000"})
    from v4doctor.server.app import features

    if not features()["fix"]:
        assert r.status_code == 503 and "launch-plan fixing" in r.json()["error"]
        return
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] is True and "+  --max-model-len 1048576" in body["diff"]
    assert body["findings"][0]["id"] == "V4D301"


def test_fix_answers_what_the_fix_command_computes(server):
    from v4doctor.server.app import features

    if not features()["fix"]:
        pytest.skip("launch-plan fixing is not in this build yet")
    from v4doctor.repair.propose import propose
    from v4doctor.api import redact_result

    compose = (HOSTS.parent / "launch" / "guide-option-b-pro.yaml").read_text()
    r = post(server, "/v1/fix", {"text": compose, "snapshot": json.loads((HOSTS / "h200-x1.json").read_text())})
    assert r.status_code == 200, r.text
    from v4doctor.facts import facts_from_json

    expected = propose(compose, "compose", facts_from_json(json.loads((HOSTS / "h200-x1.json").read_text()))).to_dict()
    assert r.json() == redact_result({"schema_version": 1, "written": False, "backup": None, **expected}) and r.json()["kind"] == "compose"


def test_fix_answers_the_same_json_as_the_fix_command(server):
    cmd = "vllm serve deepseek-ai/DeepSeek-V4-Pro --tensor-parallel-size 8 --max-model-len 2000000"
    cli = run_cli("fix", "--cmd", cmd, "--facts", str(HOSTS / "h200-x1.json"), "--json")
    if cli.code == 2 and "invalid choice" in cli.err:
        pytest.skip("the fix command is not in this build yet")
    r = post(server, "/v1/fix", {"text": cmd, "kind": "cmd", "snapshot": json.loads((HOSTS / "h200-x1.json").read_text())})
    assert r.status_code == 200 and r.json() == cli.json()


PLAIN_SECRETS = ("plainsecret99", "plainvalue123", "hunter2hunter2")


def test_secrets_in_structured_answers_are_masked_too(server):
    """redact() sees strings one at a time; argv lists and env dicts carry secrets apart from their names."""
    text = "MY_API_KEY=plainvalue123 vllm serve deepseek-ai/DeepSeek-V4-Flash --api-key plainsecret99 --max-model-len 2000000"
    r = post(server, "/v1/fix", {"text": text})
    if r.status_code == 503:
        pytest.skip("launch-plan fixing is not in this build yet")
    md = post(server, "/v1/fix", {"text": text}, headers={"Accept": "text/markdown"})
    chk = post(server, "/v1/check", {"cmd": text, "snapshot": {**json.loads((HOSTS / "h200-x1.json").read_text()), "docker": {"password": "hunter2hunter2"}}})
    for answer in (r, md, chk):
        assert answer.status_code == 200, answer.text
        assert not any(secret in answer.text for secret in PLAIN_SECRETS)
    assert "--api-key" in r.text and "MY_API_KEY" in r.text  # the names stay, so the user sees what was masked


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"env": {"HF_TOKEN": "abc", "TOKENIZER_MODE": "deepseek_v4"}}, {"env": {"HF_TOKEN": "[REDACTED]", "TOKENIZER_MODE": "deepseek_v4"}}),
        (["--hf-token", "abc", "--max-num-batched-tokens", "8192"], ["--hf-token", "[REDACTED]", "--max-num-batched-tokens", "8192"]),
        ({"token_configured": True, "max_tokens": "5"}, {"token_configured": True, "max_tokens": "5"}),  # not secrets
        (["--api-key=abc"], ["--api-key=[REDACTED]"]),  # joined form: the text pattern does it
    ],
)
def test_redact_result_masks_by_name_and_position(data, expected):
    from v4doctor.api import redact_result

    assert redact_result(data) == expected


def test_troubleshooting_lists_rows_and_finds_one(server):
    rows = requests.get(server.url + "/v1/troubleshooting", timeout=5).json()["rows"]
    assert len(rows) >= 7 and all("_file" not in r for r in rows)
    one = requests.get(server.url + "/v1/troubleshooting", params={"id": rows[0]["id"]}, timeout=5).json()["rows"]
    assert one == [rows[0]]
    missing = requests.get(server.url + "/v1/troubleshooting", params={"id": "no-such-row"}, timeout=5)
    assert missing.status_code == 404 and "no-such-row" in missing.json()["error"]


def test_checks_matches_the_checks_command(server):
    body = requests.get(server.url + "/v1/checks", timeout=5).json()
    cli = run_cli("checks", "--json").json()
    assert [c["id"] for c in body["checks"]] == [c["id"] for c in cli["checks"]]


# --------------------------------------------------------------------------- markdown
HOSTILE = (
    f"<script>alert(1)</script> [click](http://evil.example) ![x](http://evil.example/x.png)\n"
    f"```\n# heading | table |\nHF_TOKEN={TOKEN} Authorization: Bearer abcdefghijklmnop\n"
    + KV_LOG.read_text()
)


def test_markdown_answer_escapes_the_log_and_redacts_secrets(server):
    r = post(server, "/v1/diagnose", {"text": HOSTILE}, headers={"Accept": "text/markdown"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    md = r.text
    assert "## v4doctor diagnosis" in md and "13528" in md
    assert "<script>" not in md and "](http://evil" not in md
    assert TOKEN not in md and "abcdefghijklmnop" not in md


def test_markdown_fences_outgrow_backticks_in_the_input():
    from v4doctor.output.markdown import fenced

    block = fenced("a ```` b\n```\nc")
    fence = block.splitlines()[0]
    assert fence == "`````" and block.endswith("\n`````")


def test_json_is_the_default_and_markdown_needs_a_higher_rank(server):
    both = post(server, "/v1/check", {"model": "pro"}, headers={"Accept": "application/json, text/markdown;q=0.5"})
    assert both.headers["content-type"].startswith("application/json")
    md = post(server, "/v1/check", {"model": "pro"}, headers={"Accept": "text/markdown, application/json;q=0.5"})
    assert md.headers["content-type"].startswith("text/markdown") and "DeepSeek-V4-Pro" in md.text


# --------------------------------------------------------------------------- redaction and access log
def test_secrets_are_redacted_in_answers_and_the_access_log_holds_no_bodies(server):
    marker = "UNIQUE-BODY-MARKER-7f3a"
    with AccessLog() as log:
        r = post(server, "/v1/check", {"cmd": f"HF_TOKEN={TOKEN} vllm serve deepseek-ai/DeepSeek-V4-Flash --served-model-name {marker}"})
        d = post(server, "/v1/diagnose", {"text": f"{marker} token {TOKEN}\n" + KV_LOG.read_text()})
        log.wait_for('"/v1/diagnose"')
    assert r.status_code == 200 and d.status_code == 200
    assert TOKEN not in r.text and TOKEN not in d.text
    entries = [json.loads(line) for line in log.lines][-2:]  # a line of the previous test may land first
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [("POST", "/v1/check", 200), ("POST", "/v1/diagnose", 200)]
    assert all(e["bytes_in"] > 0 and e["bytes_out"] > 0 and e["duration_ms"] >= 0 for e in entries)
    assert not any(marker in line or TOKEN in line for line in log.lines)


# --------------------------------------------------------------------------- hostile requests
def test_a_body_over_the_limit_is_413_naming_the_limit(server):
    r = post(server, "/v1/diagnose", {"text": "x" * (70 * 1024)})
    assert r.status_code == 413 and "65536 bytes" in r.json()["error"]


def test_a_chunked_body_over_the_limit_is_413_while_it_streams(server):
    def chunks():
        for _ in range(40):  # 160 KiB, no Content-Length
            yield b"y" * 4096

    r = httpx.post(server.url + "/v1/diagnose", content=chunks(), headers={"Content-Type": "text/plain"}, timeout=30)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413 and "65536 bytes" in r.json()["error"]


@pytest.mark.parametrize(
    "body, ctype, status",
    [
        (b'{"text": "unterminated', "application/json", 400),  # malformed JSON
        (bytes(range(256)) * 4, "application/json", 400),  # binary junk
        (b'["a", "list"]', "application/json", 422),  # JSON of the wrong shape
        (b'{"text": 42}', "application/json", 422),  # strict: a number is not a log
        (b'{"text": "x", "extra": 1}', "application/json", 422),  # unknown fields are refused
        (b"--zzz\r\nbroken", "multipart/form-data; boundary=zzz", 400),  # malformed multipart
        (b"text", "multipart/form-data", 400),  # no boundary
        (b"<log/>", "application/xml", 415),  # wrong content type
        (b"text", "", 415),  # no content type
    ],
)
def test_bad_bodies_get_a_4xx_json_error(server, body, ctype, status):
    r = requests.post(server.url + "/v1/diagnose", data=body, headers={"Content-Type": ctype}, timeout=10)
    assert r.status_code == status, r.text
    assert r.json()["status"] == status and r.json()["error"]


def test_check_and_fix_take_json_only(server):
    for path in ("/v1/check", "/v1/fix"):
        r = requests.post(server.url + path, data="vllm serve x", headers={"Content-Type": "text/plain"}, timeout=10)
        assert r.status_code == 415


def test_unknown_routes_and_methods_answer_json_errors(server):
    assert requests.get(server.url + "/etc/passwd", timeout=5).json()["status"] == 404
    assert requests.get(server.url + "/v1/diagnose", timeout=5).json()["status"] == 405


def test_bearer_token_is_required_when_configured():
    secret = "s3cret-token-0123456789"
    with LiveServer(token=secret) as s, AccessLog() as log:
        assert requests.get(s.url + "/healthz", timeout=5).status_code == 200  # liveness stays public
        missing = requests.get(s.url + "/v1/checks", timeout=5)
        wrong = requests.post(s.url + "/v1/check", json={"model": "flash"}, headers={"Authorization": "Bearer nope"}, timeout=5)
        scheme = requests.get(s.url + "/v1/checks", headers={"Authorization": f"Basic {secret}"}, timeout=5)
        right = requests.post(s.url + "/v1/check", json={"model": "flash"}, headers={"Authorization": f"Bearer {secret}"}, timeout=5)
    assert missing.status_code == wrong.status_code == scheme.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert not any(secret in line for line in log.lines)


def test_unauthenticated_big_bodies_are_refused_before_reading():
    with LiveServer(token="s3cret-token-0123456789", max_body_bytes=1024) as s:
        r = requests.post(s.url + "/v1/diagnose", data=b"z" * 512, headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 401


def test_a_request_past_the_time_limit_is_504():
    big = (KV_LOG.read_text() + "\n") * 3000  # ~2 MB: far more than a millisecond of work
    with LiveServer(timeout_s=0.001, body_timeout_s=30, max_body_bytes=8 * 1024 * 1024) as s:
        r = requests.post(s.url + "/v1/diagnose", json={"text": big}, timeout=30)
        assert r.status_code == 504 and "time limit of 0.001 s" in r.json()["error"]
        assert requests.get(s.url + "/healthz", timeout=5).status_code == 200  # the server lives on


def test_server_log_lines_are_redacted_tracebacks_included():
    import io
    import logging

    from v4doctor.server.app import RedactingFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    log = logging.getLogger("tests.v4doctor.redacting")
    log.addHandler(handler)
    log.propagate = False
    try:
        raise ValueError(f"bad input {TOKEN}")
    except ValueError:
        log.exception("request failed: Authorization: Bearer abcdefghijklmnop")
    out = stream.getvalue()
    assert "Traceback" in out and "ValueError" in out
    assert TOKEN not in out and "abcdefghijklmnop" not in out


def test_a_body_that_trickles_in_past_the_time_limit_is_408():
    import socket
    import time

    with LiveServer(timeout_s=0.3) as s:
        host, port = s.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            conn.sendall(b"POST /v1/diagnose HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nonly ten b")
            started = time.monotonic()
            answer = ""
            while not answer.endswith("}"):  # the head and the JSON body may come in separate segments
                chunk = conn.recv(4096).decode()
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith("HTTP/1.1 408") and "time limit of 0.3 s" in answer
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "body, status",
    [
        (b'{"snapshot": ' + b"[" * 30000 + b"]" * 30000 + b"}", 400),  # nesting past the parser's limit
        (b'{"snapshot": {"target": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b', "schema_version": 1}}', 400),
        (b'{"snapshot": {"schema_version": 1, "target": {"model": "flash", "engine": "vllm", "config": ' + b'{"a":' * 100 + b"1"
         + b"}" * 100 + b"}}}", 200),  # deep but within bounds: judged
        (b'{"cmd": "' + b"x " * 30000 + b'"}', 422),  # a long plan that names no engine
    ],
)
def test_hostile_json_is_a_4xx_never_a_crash(server, body, status):
    r = requests.post(server.url + "/v1/check", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == status, r.text[:300]
    if status == 400:
        assert "not valid JSON (" in r.json()["error"]


def test_values_read_from_the_log_sit_in_code_spans_so_no_link_is_made():
    from v4doctor.output.markdown import diagnosis

    md = diagnosis({"healthy": True, "detected": {"engine": "vllm", "model": "https://evil.example/`x`"}, "diagnoses": []})
    assert "model: `https://evil.example/'x'`" in md  # a code span: no autolink, and no backtick can end it
    assert "No known problem found" in md
