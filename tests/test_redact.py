"""Secrets never leave the machine: every token shape is masked, ordinary text is not."""

import pytest

from v4doctor.output.redact import MASK, redact, redact_text

SECRETS = [
    ("export HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345", "hf_AbCdEfGhIjKlMnOpQrStUvWx"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9"),
    ("OPENAI_API_KEY: sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnop"),
    ("url https://user:s3cretpass@example.com/repo.git", "s3cretpass"),
    ("vllm serve m --api-key topsecretvalue", "topsecretvalue"),
    ('{"hf_token": "hf_0123456789abcdefABCDEF"}', "hf_0123456789abcdef"),
    ("HUGGING_FACE_HUB_TOKEN='abc123def456'", "abc123def456"),
]


@pytest.mark.parametrize("text, secret", SECRETS)
def test_secrets_are_masked(text, secret):
    out = redact_text(text)
    assert secret not in out and MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "INFO 04-24 10:11:12 [gpu_model_runner.py:2345] Model loading took 74.2 GiB",
        "--tokenizer-mode deepseek_v4 --max-model-len 131072",
        "tokens per second: 51.2, max_num_batched_tokens=8192",  # 'tokens' is not a secret name
        "https://huggingface.co/deepseek-ai/DeepSeek-V4-Flash",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert redact_text(text) == text


def test_redact_walks_nested_data():
    data = {"a": ["Bearer abcdefghijkl"], "b": {"c": "hf_abcdefghijklmnop"}, "n": 3}
    assert redact(data) == {"a": [f"Bearer {MASK}"], "b": {"c": MASK}, "n": 3}


def test_structured_secrets_are_masked_by_key_and_by_flag_position():
    data = {"env": {"MY_API_KEY": "plainvalue1", "HF_TOKEN": "x1y2z3", "max_tokens": "64"},
            "argv": ["vllm", "serve", "m", "--api-key", "plainvalue2", "--port", "8000"]}
    assert redact(data) == {"env": {"MY_API_KEY": MASK, "HF_TOKEN": MASK, "max_tokens": "64"},
                            "argv": ["vllm", "serve", "m", "--api-key", MASK, "--port", "8000"]}


def test_fix_json_never_prints_a_key_from_the_command(cli):
    r = cli("fix", "--cmd", "MY_API_KEY=plainvalue3 vllm serve deepseek-ai/DeepSeek-V4-Flash --api-key plainvalue4", "--json")
    assert r.code in (0, 1), r.err
    assert "plainvalue3" not in r.out and "plainvalue4" not in r.out
