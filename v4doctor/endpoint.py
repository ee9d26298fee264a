"""Probe a served OpenAI-compatible endpoint (vLLM, SGLang, llama-server, Ollama) with `requests`.

`probe(url)` reads `/health`, `/v1/models` (served names; vLLM also reports `max_model_len`)
and streams one tiny chat completion, measuring time to first token and tokens/s and keeping
the reply text; `judge(...)` turns those measurements into findings V4D550–V4D558. The API
key travels only in the Authorization header and is scrubbed from everything returned.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from v4doctor.findings import Finding, Severity, error, warning

PROMPT = "In one short sentence: what is the capital of France?"
MAX_TOKENS = 64
SLOW_FIRST_TOKEN_S = 10.0
MAX_BODY = 1 << 20  # a hostile or broken server cannot make the probe read more than 1 MiB of a body
VLLM_MODEL_CARD = "https://github.com/vllm-project/vllm/blob/main/vllm/entrypoints/openai/protocol.py"
FINDINGS = {  # id -> (name, title, troubleshooting row)
    "V4D550": ("endpoint-unreachable", "the endpoint answers", None),
    "V4D551": ("endpoint-auth", "the endpoint accepts the API key", None),
    "V4D552": ("endpoint-model-name", "the served model name is the one clients ask for", None),
    "V4D553": ("endpoint-max-model-len", "the served context is as long as planned", "kv-cache-too-small"),
    "V4D554": ("endpoint-first-token", "the first token comes quickly", "guide-slow-long-prefill"),
    "V4D555": ("endpoint-garbled", "the reply is text, not repeated-token garbage", "guide-gguf-gibberish"),
    "V4D556": ("endpoint-server-error", "the endpoint serves a completion", None),
    "V4D557": ("endpoint-empty-reply", "the reply has content", None),
    "V4D558": ("endpoint-not-ready", "the server has finished loading", None),
}


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


def finding(fid: str, make, title: str, detail: str = "", **kw) -> Finding:
    """A probe finding stamped with its stable id, name and troubleshooting row."""
    name, _, row = FINDINGS[fid]
    f = make(title, detail, troubleshooting=row, **kw)
    f.id, f.category, f.check = fid, "endpoint", name
    return f


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
            if not line or not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                chat["done"] = True
                return
            event = json.loads(data)
            if isinstance(event, dict) and ("error" in event or event.get("object") == "error"):
                chat["error"] = "the server sent an error in the stream: " + json.dumps(event.get("error", event))[:300]
                return
            _add_event(chat, event)
    except ValueError as exc:
        chat["error"] = f"a stream event is not JSON ({exc})"
    except (TypeError, AttributeError):
        chat["error"] = "a stream event is not a chat.completion.chunk"
    except requests.exceptions.RequestException as exc:
        chat["error"] = f"the stream broke after {chat['pieces']} pieces: {_reason(exc)}"


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


# --------------------------------------------------------------------------- judging
def judge_models(models: list[dict[str, Any]], want: str | None, planned_len: int | None) -> list[Finding]:
    """Served names against what the client asks for; the served context against the plan."""
    names = [m["id"] for m in models]
    if not names:
        return [finding("V4D556", error, "/v1/models lists no model", "The server is up but serves nothing.")]
    out = []
    if want and want not in names:
        out.append(finding("V4D552", error, f"the server serves {', '.join(names)}, not {want!r}",
                           f"Clients that send this name get HTTP 404 (vLLM: The model `{want}` does not exist.).",
                           fix=f"Ask for {names[0]!r}, or restart the server with `--served-model-name {want}`.",
                           evidence=[f"/v1/models: {names}"]))
    card = next((m for m in models if m["id"] == want), models[0])
    if planned_len and card.get("max_model_len") and card["max_model_len"] < planned_len:
        out.append(finding("V4D553", warning, f"{card['id']} serves {card['max_model_len']:,} tokens of context, less than the planned {planned_len:,}",
                           "Requests longer than the served max_model_len are rejected with HTTP 400.",
                           fix="Restart with a larger `--max-model-len` if the KV cache fits (`v4doctor fit`), or plan for the served length.",
                           evidence=[f"/v1/models {card['id']}: max_model_len={card['max_model_len']}"], sources=[VLLM_MODEL_CARD]))
    return out


def judge_chat(chat: dict[str, Any], slow_first_token_s: float = SLOW_FIRST_TOKEN_S) -> list[Finding]:
    """The streamed reply: broken, empty, slow to start, or garbage."""
    if chat.get("error") or not chat.get("done"):
        why = chat.get("error") or f"the stream ended after {chat.get('pieces', 0)} pieces without `data: [DONE]`"
        return [finding("V4D556", error, f"the streamed completion failed: {why}",
                        "The server dropped or broke the response mid-stream: a crash, an out-of-memory or a proxy timeout.",
                        fix="Read the server's log around this request (`docker logs NAME 2>&1 | v4doctor diagnose -`).")]
    out = []
    reply = chat.get("text") or chat.get("reasoning") or ""
    if not reply.strip():
        out.append(finding("V4D557", warning, f"the reply is empty (finish_reason={chat.get('finish_reason')})",
                           "The server produced no text for a one-line question.",
                           fix="If the model thinks by default, raise max_tokens or disable thinking in the request; else check the chat template."))
    if chat.get("ttft_s") and chat["ttft_s"] > slow_first_token_s:
        out.append(finding("V4D554", warning, f"the first token took {chat['ttft_s']:.1f} s (threshold {slow_first_token_s:g} s)",
                           "A one-line prompt should start streaming within seconds; a long wait means a queue, a cold start (CUDA graph capture, JIT) or offloaded weights.",
                           fix="Probe again once warm; if it stays slow, check the load and `--max-num-seqs`, and keep weights on the GPU."))
    why = garbled(reply)
    if why:
        out.append(finding("V4D555", error, f"the reply looks like garbage: {why}",
                           "Repeated-token output comes from a broken quantization, a wrong GGUF or a kernel bug (llama.cpp's CUDA flash attention printed repeated `<` for V4).",
                           fix="llama.cpp: run with `-fa off` and a mainline GGUF (b9840+); vLLM/SGLang: check the checkpoint and quantization flags.",
                           evidence=[f"reply: {reply[:120]!r}"], sources=["https://github.com/ggml-org/llama.cpp/issues/26509"]))
    return out


def garbled(text: str) -> str | None:
    """Why a reply reads as repeated-token garbage ("<<<<<<<<"), or None when it reads as text."""
    chars = "".join(text.split())
    if len(chars) < 8:
        return None
    top, n = Counter(chars).most_common(1)[0]
    if n / len(chars) >= 0.6:
        return f"{n} of {len(chars)} characters are {top!r}"
    words = text.split()
    if len(words) >= 6:
        word, m = Counter(words).most_common(1)[0]
        if m / len(words) >= 0.6:
            return f"{word!r} is {m} of {len(words)} words"
    letters = sum(ch.isalpha() for ch in chars)
    if letters / len(chars) < 0.2:
        return f"only {letters} of {len(chars)} characters are letters"
    return None
