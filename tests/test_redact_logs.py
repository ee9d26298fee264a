"""Secrets in a pasted log never reach any diagnose output: text, JSON, Markdown, evidence, args, fix commands."""

from __future__ import annotations

import pytest

from tests.conftest import LOGS, run_cli

SECRETS = ["hf_AbCdEfGhIjKlMnOpQrSt1234", "sk-proj-AbCdEfGhIjKlMnOpQrSt", "eyJhbGciOiJIUzI1NiJ9.payload", "s3cretPassw0rd", "abcd1234efgh"]
# Synthetic: real error lines (vllm#40778 command, vllm#47174 error) with secrets planted where users paste them.
LOG = "\n".join([
    "export HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrSt1234",
    "$ vllm serve /data/pretrained/DeepSeek-V4-Flash --api-key abcd1234efgh --served-model-name DeepSeek-V4-Flash",
    "INFO 08-07 21:32:22 [api_utils.py:273] non-default args: {'model_tag': 'deepseek-ai/DeepSeek-V4-Flash', 'api_key': ['abcd1234efgh'], 'hf_token': 'hf_AbCdEfGhIjKlMnOpQrSt1234'}",
    "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload' https://user:s3cretPassw0rd@proxy.internal/v1",
    "AssertionError: DeepseekV4 fp8_ds_mla layout only supports fp8 kv-cache, got auto sk-proj-AbCdEfGhIjKlMnOpQrSt",
    "RuntimeError: something unknown failed with token hf_AbCdEfGhIjKlMnOpQrSt1234 " + "y" * 390 + " hf_ZyXwVuTsRqPoNmLkJiHg",
])


@pytest.mark.parametrize("fmt", [(), ("--json",), ("--format", "markdown"), ("-v",)])
def test_no_secret_in_any_output(fmt):
    r = run_cli("diagnose", "--text", LOG, *fmt)
    assert r.code == 1
    for secret in SECRETS + ["hf_ZyXwVuTsRqPoNmLkJiHg", "hf_ZyX"]:
        assert secret not in r.out and secret not in r.err, (fmt, secret)
    assert "[REDACTED]" in r.out


def test_the_fix_command_keeps_the_flag_but_not_the_value():
    data = run_cli("diagnose", "--text", LOG, "--json").json()
    cmd = next(d["fix_command"] for d in data["diagnoses"] if d["fix_command"])
    assert "--api-key" in cmd and "abcd1234efgh" not in cmd and "--kv-cache-dtype fp8" in cmd
    assert data["detected"]["args"]["hf_token"] == "[REDACTED]"


def test_a_real_log_without_secrets_is_not_masked():
    r = run_cli("diagnose", str(LOGS / "a-vllm-kv-cache-too-small.log"), "--json")
    assert "[REDACTED]" not in r.out
