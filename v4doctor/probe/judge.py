"""Judge what `v4doctor.probe.endpoint.probe` measured: findings V4D550–V4D558 with stable ids and names.

`judge_models` reads the served model cards, `judge_chat` the streamed reply (`garbled` spots
repeated-token garbage); `finding` stamps a probe finding, also for the probe's own stops.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from v4doctor.judge.findings import Finding, error, warning

SLOW_FIRST_TOKEN_S = 10.0
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


def finding(fid: str, make, title: str, detail: str = "", **kw) -> Finding:
    """A probe finding stamped with its stable id, name and troubleshooting row."""
    name, _, row = FINDINGS[fid]
    f = make(title, detail, troubleshooting=row, **kw)
    f.id, f.category, f.check = fid, "endpoint", name
    return f


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
