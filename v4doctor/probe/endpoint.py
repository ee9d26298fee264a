"""Probe a served OpenAI-compatible endpoint (vLLM, SGLang, llama-server, Ollama) with `requests`.

`probe(url)` reads `/health`, `/v1/models` (served names; vLLM also reports `max_model_len`)
and streams one tiny chat completion, measuring time to first token and tokens/s and keeping
the reply text; `v4doctor.probe.judge` turns those measurements into findings V4D550–V4D558. The API
key travels only in the Authorization header and is scrubbed from everything returned.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from v4doctor.probe.judge import FINDINGS, SLOW_FIRST_TOKEN_S, finding, garbled, judge_chat, judge_models
from v4doctor.judge.findings import Finding, Severity, error, warning

__all__ = ["FINDINGS", "ProbeResult", "garbled", "judge_chat", "judge_models", "probe"]  # judging lives in endpoint_judge.py

PROMPT = "In one short sentence: what is the capital of France?"
MAX_TOKENS = 64
MAX_BODY = 1 << 20  # a hostile or broken server cannot make the probe read more than 1 MiB of a body


@dataclass
class ProbeResult:
    url: str
    health: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    chat: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def exit_code(self) -> int:
        return 1 if any(f.severity is Severity.ERROR for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(f.severity.value for f in self.findings)
        return {
            "schema_version": 1,
            "url": self.url,
            "health": self.health,
            "models": self.models,
            "chat": self.chat,
            "findings": [f.to_dict() for f in self.findings],
            "summary": {s.value: counts.get(s.value, 0) for s in Severity} | {"healthy": self.exit_code() == 0},
        }


class _Stop(Exception):
    """The probe cannot go on; carries the finding that says why."""

    def __init__(self, f: Finding):
        self.finding = f


def probe(url: str, *, model: str | None = None, api_key: str | None = None, timeout: float = 60.0,
          max_model_len: int | None = None, slow_first_token_s: float = SLOW_FIRST_TOKEN_S) -> ProbeResult:
    """Health, served models and one streamed completion; never raises for a server's fault."""
    import requests

    base = url.rstrip("/")
    base = base.removesuffix("/v1")
    result = ProbeResult(url=url)
    with requests.Session() as s:
        if api_key:
            s.headers["Authorization"] = f"Bearer {api_key}"
        try:
            result.health = _health(s, base, min(timeout, 10.0))
            result.models = _models(s, base, min(timeout, 10.0))
            served = [m["id"] for m in result.models]
            result.findings += judge_models(result.models, model, max_model_len)
            if served:
                result.chat = _chat(s, base, model if model in served else served[0], timeout)
                result.findings += judge_chat(result.chat, slow_first_token_s)
        except _Stop as stop:
            result.findings.append(stop.finding)
    return _scrubbed(result, api_key)


def _scrubbed(result: ProbeResult, secret: str | None) -> ProbeResult:
    """Remove the key itself from every string (servers echo it back in error bodies)."""
    if not secret:
        return result
    data = json.loads(json.dumps([result.health, result.models, result.chat]).replace(json.dumps(secret)[1:-1], "[REDACTED]"))
    result.health, result.models, result.chat = data
    for f in result.findings:
        f.title, f.detail = f.title.replace(secret, "[REDACTED]"), f.detail.replace(secret, "[REDACTED]")
        f.evidence = [e.replace(secret, "[REDACTED]") for e in f.evidence]
    return result


# --------------------------------------------------------------------------- requests
def _request(s, method: str, url: str, timeout: float, **kw):
    import requests

    try:
        return s.request(method, url, timeout=timeout, stream=True, **kw)
    except requests.exceptions.ConnectTimeout:
        raise _Stop(_unreachable(url, f"no connection within {timeout:g} s")) from None
    except requests.exceptions.ConnectionError as exc:
        raise _Stop(_unreachable(url, _reason(exc))) from None
    except requests.exceptions.Timeout:
        raise _Stop(finding("V4D556", error, f"{url} did not answer within {timeout:g} s",
                            "The server accepted the connection but sent no response.", fix="Check the server's log; it may still be loading or be stuck.")) from None
    except requests.exceptions.RequestException as exc:  # an invalid URL, too many redirects, a bad TLS setup
        raise _Stop(_unreachable(url, _reason(exc))) from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for key in ("Connection refused", "Name or service not known", "No route to host", "Connection reset"):
        if key in text:
            return key.lower()
    return text[:200]


def _unreachable(url: str, why: str) -> Finding:
    return finding("V4D550", error, f"{url} is unreachable ({why})",
                   "Nothing answered at that address: the server is not running, still starting, or listens on another host or port.",
                   fix="Check that the server runs (`docker ps`, `docker logs NAME`) and listens on 0.0.0.0 with the port published (`-p 8000:8000`).")


def _text(resp) -> str:
    """The body, read once and at most MAX_BODY bytes (every request is streamed)."""
    if not hasattr(resp, "_v4d_text"):
        raw = resp.raw.read(MAX_BODY, decode_content=True) or b""
        resp._v4d_text = raw.decode(resp.encoding or "utf-8", "replace")
    return resp._v4d_text


def _body(resp) -> str:
    return _text(resp)[:300].replace("\n", " ")


def _health(s, base: str, timeout: float) -> dict[str, Any]:
    """`/health`: 200 when ready; 503 while loading (llama-server: `{"error": {"message": "Loading model"}}`)."""
    resp = _request(s, "GET", base + "/health", timeout)
    if resp.status_code == 503:
        raise _Stop(finding("V4D558", warning, f"the server is up but not ready yet: {_body(resp) or 'HTTP 503'}",
                            "It still loads the model (V4 weights take minutes to read), so it refuses completions for now.",
                            fix="Wait for the load to finish (`docker logs -f NAME`), then probe again.",
                            evidence=[f"/health 503: {_body(resp)}"]))
    return {"status": resp.status_code, "ok": resp.ok, "body": _body(resp)}


def _models(s, base: str, timeout: float) -> list[dict[str, Any]]:
    resp = _request(s, "GET", base + "/v1/models", timeout)
    _raise_for_status(resp, "/v1/models")
    try:
        data = json.loads(_text(resp)).get("data") or []
        return [{"id": m["id"], "root": m.get("root"), "max_model_len": m.get("max_model_len"), "owned_by": m.get("owned_by")} for m in data]
    except (ValueError, AttributeError, KeyError, TypeError):
        raise _Stop(finding("V4D556", error, "/v1/models did not return an OpenAI model list", f"body: {_body(resp)}")) from None


def _raise_for_status(resp, what: str) -> None:
    if resp.status_code in (401, 403):
        raise _Stop(finding("V4D551", error, f"{what} answered {resp.status_code}: the server wants an API key",
                            "The server was started with an API key (`--api-key` / VLLM_API_KEY) and this request had none, or the wrong one.",
                            fix="Pass the key through an environment variable: `v4doctor probe URL --api-key-env VLLM_API_KEY`.",
                            evidence=[f"{what} {resp.status_code}: {_body(resp)}"]))
    if resp.status_code >= 400:
        raise _Stop(finding("V4D556", error, f"{what} answered HTTP {resp.status_code}",
                            "The server is up but failed the request.", fix="Read the server's log for the traceback (`v4doctor diagnose`).",
                            evidence=[f"{what} {resp.status_code}: {_body(resp)}"]))


# --------------------------------------------------------------------------- the streamed reply
def _chat(s, base: str, model: str | None, timeout: float) -> dict[str, Any]:
    """One streamed chat completion; `data: {...}` events until `data: [DONE]` (vLLM, SGLang, llama-server)."""
    payload = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": MAX_TOKENS,
               "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    chat: dict[str, Any] = {"model": model, "text": "", "reasoning": "", "pieces": 0, "finish_reason": None,
                            "usage": None, "done": False, "error": None, "_t0": time.monotonic(), "_first": None, "_last": None}
    resp = _request(s, "POST", base + "/v1/chat/completions", timeout, json=payload)
    _raise_for_status(resp, "/v1/chat/completions")
    try:
        _read_stream(resp, chat, chat["_t0"] + timeout)
    finally:
        resp.close()
    return _measured(chat, time.monotonic())


def _read_stream(resp, chat: dict[str, Any], deadline: float) -> None:
    """Read `data:` events until `[DONE]`, an error event, a broken stream or the overall deadline."""
    import requests

    try:
        for line in resp.iter_lines(decode_unicode=True):
            if time.monotonic() > deadline:
                chat["error"] = f"the stream did not end within the timeout ({chat['pieces']} pieces so far)"
                return
            if _take_line(chat, line):
                return
    except ValueError as exc:
        chat["error"] = f"a stream event is not JSON ({exc})"
    except (TypeError, AttributeError):
        chat["error"] = "a stream event is not a chat.completion.chunk"
    except requests.exceptions.RequestException as exc:
        chat["error"] = f"the stream broke after {chat['pieces']} pieces: {_reason(exc)}"


def _take_line(chat: dict[str, Any], line: str) -> bool:
    """One line of the stream into `chat`; True when the stream is over (`data: [DONE]` or an error event)."""
    if not line or not line.startswith("data:"):
        return False
    data = line[5:].strip()
    if data == "[DONE]":
        chat["done"] = True
        return True
    event = json.loads(data)
    if isinstance(event, dict) and ("error" in event or event.get("object") == "error"):
        chat["error"] = "the server sent an error in the stream: " + json.dumps(event.get("error", event))[:300]
        return True
    _add_event(chat, event)
    return False


def _add_event(chat: dict[str, Any], event: dict[str, Any]) -> None:
    """Sample: {"choices":[{"index":0,"delta":{"content":"Paris"},"finish_reason":null}]}."""
    if event.get("usage"):
        chat["usage"] = dict(event["usage"])
    for choice in event.get("choices") or []:
        delta = choice.get("delta") or {}
        piece = str(delta.get("content") or "")
        thought = str(delta.get("reasoning_content") or delta.get("reasoning") or "")
        if piece or thought:
            now = time.monotonic()
            chat["_first"] = chat["_first"] or now
            chat["_last"] = now
            chat["pieces"] += 1
            chat["text"] += piece
            chat["reasoning"] += thought
        chat["finish_reason"] = choice.get("finish_reason") or chat["finish_reason"]


def _measured(chat: dict[str, Any], end: float) -> dict[str, Any]:
    t0, first, last = chat.pop("_t0"), chat.pop("_first"), chat.pop("_last")
    usage = chat["usage"] or {}
    tokens = usage.get("completion_tokens")
    tokens = tokens if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens >= 0 else chat["pieces"]
    chat["completion_tokens"] = tokens
    chat["ttft_s"] = round(first - t0, 3) if first else None
    chat["duration_s"] = round(end - t0, 3)
    span = (last - first) if first and last else 0.0
    chat["tokens_per_s"] = round((tokens - 1) / span, 1) if span > 0 and tokens > 1 else None
    return chat
