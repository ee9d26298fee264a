"""`v4doctor probe` against a real HTTP server on 127.0.0.1 serving recorded OpenAI-compatible responses.

`FakeOpenAI(mode=...)` serves `fixtures/endpoint/` (vLLM's `/v1/models` card, SSE chat chunks,
llama-server chunks with the repeated `<` reply, vLLM's 401 and 500 bodies) over real sockets:
chunked SSE streaming, a stream cut mid-way, a server that never answers, a slow first token.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import FIXTURES, run_cli

from v4doctor.probe.endpoint import garbled, probe

ENDPOINT = FIXTURES / "endpoint"
KEY = "s3cret-probe-key-4711"  # no token shape: only the probe's own scrubbing can hide it


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # stream each SSE chunk at once, as a real server does
    cfg: dict

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        want = self.cfg.get("key")
        got = self.headers.get("Authorization", "")
        if not want or got == f"Bearer {want}":
            return True
        body = json.loads((ENDPOINT / "unauthorized.json").read_text())
        if self.cfg.get("echo_key"):  # a proxy that echoes what it was sent
            body["error"] += f" (got {got!r})"
        self._send(401, json.dumps(body).encode())
        return False

    def do_GET(self):
        if self.path == "/health":
            loading = self.cfg.get("mode") == "loading"
            return self._send(503, (ENDPOINT / "health-loading-llamacpp.json").read_bytes()) if loading else self._send(200, b"")
        if not self._authorized():
            return None
        if self.path == "/v1/models":
            body = self.cfg.get("models_bytes") or (ENDPOINT / self.cfg.get("models", "models-vllm.json")).read_bytes()
            return self._send(200, body)
        return self._send(404, b'{"detail":"Not Found"}')

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.cfg.setdefault("bodies", []).append(body)
        if not self._authorized():
            return None
        mode = self.cfg.get("mode", "ok")
        if mode == "500":
            return self._send(500, (ENDPOINT / "error-500.json").read_bytes())
        if mode == "hang":
            time.sleep(self.cfg.get("hang_s", 2.0))
            return None
        self._stream(mode)

    def _stream(self, mode: str):
        events = self.cfg.get("raw_events") or [
            e + "\n\n" for e in (ENDPOINT / self.cfg.get("stream", "stream-vllm.sse")).read_text().split("\n\n") if e]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i, event in enumerate(events):
            if mode == "broken" and i == 3:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # cut mid-stream, no terminating chunk
                return
            if i == 1 and self.cfg.get("first_token_delay"):
                time.sleep(self.cfg["first_token_delay"])
            if i >= 1 and self.cfg.get("drip_s"):  # every event late, each within the read timeout
                time.sleep(self.cfg["drip_s"])
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class FakeOpenAI:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port; `cfg` picks the behaviour."""

    def __init__(self, **cfg):
        self.cfg = cfg
        handler = type("Handler", (_Handler,), {"cfg": self.cfg})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _ids(result) -> list[str]:
    return sorted(f.id for f in result.findings)


# --------------------------------------------------------------------------- healthy
def test_healthy_vllm_endpoint_measures_and_finds_nothing():
    with FakeOpenAI() as srv:
        r = probe(srv.url, model="deepseek-v4-flash", max_model_len=131072)
        sent = srv.cfg["bodies"][0]
    assert r.findings == []
    assert r.models == [{"id": "deepseek-v4-flash", "root": "deepseek-ai/DeepSeek-V4-Flash", "max_model_len": 131072, "owned_by": "vllm"}]
    assert r.chat["text"] == "The capital of France is Paris."
    assert r.chat["completion_tokens"] == 7 and r.chat["done"] and r.chat["finish_reason"] == "stop"
    assert r.chat["ttft_s"] is not None and r.chat["ttft_s"] < 5
    assert sent["stream"] is True and sent["model"] == "deepseek-v4-flash" and sent["max_tokens"] > 0
    assert r.exit_code() == 0


def test_probe_accepts_a_url_ending_in_v1_and_picks_the_served_name():
    with FakeOpenAI() as srv:
        r = probe(srv.url + "/v1/")
    assert r.chat["model"] == "deepseek-v4-flash" and r.findings == []


# --------------------------------------------------------------------------- findings (hit rows)
HITS = [
    # (server config, probe kwargs, expected ids, why)
    ({}, {"model": "deepseek-v4-pro"}, ["V4D552"], "the client asks for a name the server does not serve"),
    ({}, {"max_model_len": 262144}, ["V4D553"], "the plan wants 262,144 tokens, vLLM reports 131,072"),
    ({"stream": "stream-garbled.sse"}, {}, ["V4D555"], "llama-server repeats `<` (llama.cpp#26509)"),
    ({"first_token_delay": 0.4}, {"slow_first_token_s": 0.1}, ["V4D554"], "first token after 0.4 s, threshold 0.1 s"),
    ({"mode": "500"}, {}, ["V4D556"], "HTTP 500 EngineCore encountered an issue"),
    ({"mode": "broken"}, {}, ["V4D556"], "the stream is cut without the last chunk"),
    ({"stream": "stream-engine-dead.sse"}, {}, ["V4D556"], "an error event inside the stream"),
    ({"mode": "hang", "hang_s": 1.5}, {"timeout": 0.5}, ["V4D556"], "no answer within the timeout"),
    ({"key": KEY}, {}, ["V4D551"], "the server wants a key, none sent"),
    ({"key": KEY}, {"api_key": "wrong-key"}, ["V4D551"], "the wrong key"),
    ({"mode": "loading"}, {}, ["V4D558"], "llama-server answers /health 503 Loading model"),
    ({"drip_s": 0.15}, {"timeout": 0.5}, ["V4D556"], "a stream that never ends within the overall timeout"),
]


@pytest.mark.parametrize("cfg,kwargs,ids,why", HITS, ids=[h[3] for h in HITS])
def test_each_problem_gives_its_finding(cfg, kwargs, ids, why):
    with FakeOpenAI(**cfg) as srv:
        r = probe(srv.url, **kwargs)
    assert _ids(r) == ids, why
    assert all(f.category == "endpoint" and f.fix for f in r.findings)


NO_HITS = [
    ({"key": KEY}, {"api_key": KEY}, "the right key is accepted: no auth finding"),
    ({}, {"model": "deepseek-v4-flash", "max_model_len": 100000}, "planned length below the served one: no V4D553"),
    ({"first_token_delay": 0.2}, {"slow_first_token_s": 5}, "0.2 s is under the 5 s threshold: no V4D554"),
]


@pytest.mark.parametrize("cfg,kwargs,why", NO_HITS, ids=[n[2] for n in NO_HITS])
def test_healthy_variants_stay_silent(cfg, kwargs, why):
    with FakeOpenAI(**cfg) as srv:
        r = probe(srv.url, **kwargs)
    assert r.findings == [], why


def test_a_huge_body_is_read_only_up_to_the_limit():
    from v4doctor.probe import endpoint

    huge = b'{"object": "list", "data": [' + b" " * (endpoint.MAX_BODY * 3) + b"]}"  # synthetic: 3 MiB of padding
    with FakeOpenAI(models_bytes=huge) as srv:
        r = probe(srv.url, timeout=10)
    assert _ids(r) == ["V4D556"] and "did not return an OpenAI model list" in r.findings[0].title


def test_a_url_requests_cannot_use_is_unreachable_not_a_crash():
    r = probe("http://exa mple.invalid:8000", timeout=2)
    assert _ids(r) == ["V4D550"]


def test_connection_refused_is_unreachable():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = probe(f"http://127.0.0.1:{port}", timeout=2)
    assert _ids(r) == ["V4D550"] and "connection refused" in r.findings[0].title


# --------------------------------------------------------------------------- the key never leaks
def test_the_api_key_never_appears_in_output_even_when_echoed(monkeypatch):
    monkeypatch.setenv("PROBE_KEY", "wrong-" + KEY)
    with FakeOpenAI(key=KEY, echo_key=True) as srv:
        res = run_cli("probe", srv.url, "--api-key-env", "PROBE_KEY", "--json")
        text = run_cli("probe", srv.url, "--api-key-env", "PROBE_KEY")
    assert res.code == 1 and res.json()["findings"][0]["id"] == "V4D551"
    for out in (res.out, res.err, text.out, text.err):
        assert KEY not in out
    assert "[REDACTED]" in res.out


# --------------------------------------------------------------------------- CLI
def test_cli_json_shape_and_exit_codes():
    with FakeOpenAI() as srv:
        ok = run_cli("probe", srv.url, "--json")
        bad = run_cli("probe", srv.url, "--model", "deepseek-v4-pro", "--json")
        text = run_cli("probe", srv.url)
    data = ok.json()
    assert ok.code == 0 and set(data) == {"schema_version", "url", "health", "models", "chat", "findings", "summary"}
    assert data["chat"]["text"] == "The capital of France is Paris." and data["summary"]["healthy"] is True
    assert bad.code == 1 and [f["id"] for f in bad.json()["findings"]] == ["V4D552"]
    assert "serves: deepseek-v4-flash, max_model_len 131,072" in text.out and "The endpoint works." in text.out


@pytest.mark.parametrize("argv,message", [
    (["probe", "localhost:8000"], "not an http(s) URL"),
    (["probe", "http://127.0.0.1:9", "--api-key-env", "V4D_SURELY_UNSET_VAR"], "is not set"),
    (["probe", "http://127.0.0.1:9", "--timeout", "0"], "must be positive"),
])
def test_bad_usage_is_one_line_and_exit_2(argv, message):
    res = run_cli(*argv)
    assert res.code == 2 and message in res.err and res.err.count("\n") == 1 and res.out == ""


# --------------------------------------------------------------------------- the garble heuristic
@pytest.mark.parametrize("text", [
    "The capital of France is Paris.",
    "Paris.",
    "法国的首都是巴黎。",
    "La capitale de la France est Paris, une ville de plus de deux millions d'habitants.",
])
def test_real_replies_are_not_garbage(text):
    assert garbled(text) is None


@pytest.mark.parametrize("text", ["<" * 40, "<<<< <<<< <<<< <<<<", "the the the the the the the the", "1 2 3 4 5 6 7 8 9 0 1 2 3"])
def test_repeated_token_replies_are_garbage(text):
    assert garbled(text)


# --------------------------------------------------------------------------- fuzz: no server input crashes the probe
from hypothesis import given, settings
from hypothesis import strategies as st

from v4doctor.probe.endpoint import _add_event, _measured

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                         ["choices", "delta", "content", "reasoning", "usage", "completion_tokens", "finish_reason", "error"]), inner, max_size=4),
                     max_leaves=10)


@settings(max_examples=100, deadline=None)
@given(st.lists(_json, max_size=6))
def test_any_stream_events_are_survived(events):
    chat = {"text": "", "reasoning": "", "pieces": 0, "finish_reason": None, "usage": None, "_t0": 0.0, "_first": None, "_last": None}
    for event in events:
        try:
            _add_event(chat, event)
        except (TypeError, AttributeError, ValueError):
            pass  # _read_stream turns these into "a stream event is not a chat.completion.chunk"
    chat = _measured(chat, 1.0)
    assert isinstance(chat["completion_tokens"], int)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_garbled_never_crashes(text):
    assert garbled(text) is None or isinstance(garbled(text), str)


@pytest.mark.parametrize("event,why", [
    ("data: [1, 2, 3]\n\n", "not a chat.completion.chunk"),
    ('data: {"choices": 5}\n\n', "not a chat.completion.chunk"),
    ("data: {not json\n\n", "is not JSON"),
])
def test_a_stream_of_non_chunks_is_a_server_error(event, why):
    with FakeOpenAI(raw_events=[event, "data: [DONE]\n\n"]) as srv:  # synthetic events, not a recording
        r = probe(srv.url)
    assert _ids(r) == ["V4D556"] and why in r.findings[0].title


def test_probe_as_a_subprocess(monkeypatch):
    import os
    import subprocess
    import sys

    with FakeOpenAI(key=KEY) as srv:
        env = {**os.environ, "MY_VLLM_KEY": KEY}
        run = subprocess.run([sys.executable, "-m", "v4doctor", "probe", srv.url, "--api-key-env", "MY_VLLM_KEY",
                              "--model", "deepseek-v4-flash"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert "The endpoint works." in run.stdout and "first token after" in run.stdout
    assert KEY not in run.stdout + run.stderr
