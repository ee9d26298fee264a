"""Issue #16: no secret ever leaves. A property test plants tokens of every known shape
anywhere in a log, a command, a compose file or a facts file, runs the real CLI and asserts
that no output (text, JSON, Markdown, diff, corrected command, evidence) carries one.
Fixed seed (derandomize), a short budget here; bench/fuzz.py runs the long one."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import HOSTS, run_cli
from v4doctor.output.redact import redact, redact_text

_ALNUM = string.ascii_letters + string.digits
_B = st.text(_ALNUM, min_size=24, max_size=40)  # a secret's random body: never in ordinary output


def _shapes(body: str) -> list[tuple[str, str]]:
    """(text as pasted, the secret part that must not come out) for every known shape."""
    up = "".join(c for c in body.upper() if c.isalnum())[:16].ljust(16, "Q")
    return [
        (f"hf_{body}", body), (f"sk-proj-{body}", body), (f"sk-ant-{body}", body),
        (f"Authorization: Bearer {body}", body), (f"HF_TOKEN={body}", body), (f"export HUGGING_FACE_HUB_TOKEN='{body}'", body),
        (f"--api-key {body}", body), (f"--api-key k{body[:8]}x {body}", body), (f"--api_key={body}", body),
        (f'--api-key "{body}"', body), (f'"--api-key", "{body}"', body),
        (f"https://user:{body}@proxy.internal/v1", body), (f'auth: "Basic {body}"', body),
        (f"AKIA{up}", up), (f"aws_secret_access_key = {body}", body), (f"AIza{(body * 2)[:35]}", (body * 2)[:35]),
        (f"DefaultEndpointsProtocol=https;AccountName=x;AccountKey={body}==;", body),
        (f"https://x.blob.core.windows.net/c?sv=2024&sig={body}", body),
        (f"eyJhbGciOiJIUzI1NiJ9.eyJ{body}.{body[::-1]}", body), (f"\x1b[0mhf_{body}\x1b[0m", body),
        (f'{{"private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"}}', body),
    ]


_SHAPE_COUNT = len(_shapes("x" * 24))
_SETTINGS = settings(max_examples=25, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


def _leaks(out: str, secret: str) -> bool:
    return secret in out or secret[-12:] in out or secret[:12] in out


@given(_B, st.integers(0, _SHAPE_COUNT - 1), st.integers(0, 4000))
@_SETTINGS
def test_redact_text_masks_every_shape_anywhere_in_a_line(body, shape, pad):
    text, secret = _shapes(body)[shape]
    line = "x" * (pad % 50) + " " + text + " trailing words"
    assert not _leaks(redact_text(line), secret)


_LOG_LINES = [
    "INFO 08-07 21:32:22 [api_utils.py:273] non-default args: {{'model_tag': 'deepseek-ai/DeepSeek-V4-Flash', 'note': '{s}'}}",
    "$ vllm serve deepseek-ai/DeepSeek-V4-Flash {s} --max-model-len 8192",
    "RuntimeError: something unknown failed with {s}",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. {s}",
    "{s}",
]


@given(_B, st.integers(0, _SHAPE_COUNT - 1), st.integers(0, len(_LOG_LINES) - 1), st.sampled_from([(), ("--json",), ("--format", "markdown"), ("-v",)]))
@_SETTINGS
def test_no_planted_secret_leaves_diagnose(body, shape, where, fmt):
    text, secret = _shapes(body)[shape]
    log = "\n".join(["INFO 04-24 10:11:12 [api_server.py:1] vLLM API server version 0.25.0",
                     _LOG_LINES[where].format(s=text), "ValueError: To serve at least one request with the models's max seq len (163840), (5.0 GiB KV cache is needed, which is larger than the available KV cache memory (2.0 GiB)."])
    r = run_cli("diagnose", "--text", log, *fmt)
    assert r.code in (0, 1), r.err
    assert not _leaks(r.out + r.err, secret), (text, fmt)


@given(_B, st.integers(0, _SHAPE_COUNT - 1), st.booleans())
@_SETTINGS
def test_no_planted_secret_leaves_fix_of_a_command(body, shape, as_json):
    text, secret = _shapes(body)[shape]
    cmd = f"vllm serve deepseek-ai/DeepSeek-V4-Flash {text} --max-num-batchd-tokens 8192 -tp 8"
    r = run_cli("fix", "--cmd", cmd, *(["--json"] if as_json else []))
    assert r.code in (0, 1, 2), r.err
    assert not _leaks(r.out + r.err, secret), text


@given(_B, st.sampled_from(["list", "string", "env", "env-list"]))
@_SETTINGS
def test_no_planted_secret_leaves_fix_of_a_compose_file(tmp_path_factory, body, form):
    command = {
        "list": f'["--model", "deepseek-ai/DeepSeek-V4-Flash", "--api-key", "{body}", "--max-num-batchd-tokens", "8192"]',
        "string": f'"--model deepseek-ai/DeepSeek-V4-Flash --api-key {body} --max-num-batchd-tokens 8192"',
        "env": '["--model", "deepseek-ai/DeepSeek-V4-Flash", "--max-num-batchd-tokens", "8192"]',
        "env-list": '["--model", "deepseek-ai/DeepSeek-V4-Flash", "--max-num-batchd-tokens", "8192"]',
    }[form]
    env = f"    environment:\n      HF_TOKEN: {body}\n" if form == "env" else f"    environment:\n      - AUTH=Basic {body}\n" if form == "env-list" else ""
    path = tmp_path_factory.mktemp("c") / "compose.yaml"
    path.write_text(f"services:\n  vllm:\n    image: vllm/vllm-openai:v0.20.0\n    command: {command}\n{env}")
    for fmt in ((), ("--json",)):
        r = run_cli("fix", "--compose", str(path), *fmt)
        assert r.code in (0, 1), r.err
        assert not _leaks(r.out + r.err, body), (form, fmt)


def test_no_planted_secret_leaves_run_with_a_facts_file(tmp_path):
    body = "Zq8XwV3tLm9PkR2sNb7YcD4f"
    facts = json.loads(sorted(HOSTS.glob("*.json"))[0].read_text())
    facts.setdefault("system", {})["note"] = f"HF_TOKEN={body} hf_{body}"
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(facts))
    for fmt in ((), ("--json",), ("--format", "markdown")):
        r = run_cli("run", "--facts", str(path), "--cmd", f"vllm serve deepseek-ai/DeepSeek-V4-Flash --api-key {body}", *fmt)
        assert r.code in (0, 1, 2), r.err
        assert not _leaks(r.out + r.err, body), fmt


@pytest.mark.parametrize("argv, hidden", [
    (["vllm", "serve", "m", "--api-key", "K1", "K2", "--port", "1"], ["K1", "K2"]),
    (["vllm", "serve", "--api_key", "K3"], ["K3"]),
    (["x", "--token", "K4", "positional"], ["K4"]),
])
def test_argv_lists_hide_every_value_of_a_secret_flag(argv, hidden):
    out = redact({"args": argv})["args"]
    assert not set(hidden) & set(out) and "--port" in out + ["--port"]


@pytest.mark.parametrize("text", ["KeyError: 'secret': try again", "basic configuration is fine", "max_num_batched_tokens=8192"])
def test_ordinary_prose_is_not_masked(text):
    assert redact_text(text) == text
