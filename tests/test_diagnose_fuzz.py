"""Fuzz the diagnoser: random bytes, binary junk, long lines and real literals in odd places never
crash it or make it hang (bounded examples, each under a deadline)."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from v4doctor.logs import diagnose_file, diagnose_text
from v4doctor.logs.signatures import load_signatures

LITERALS = sorted({s.literal for s in load_signatures()})
FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def _check(d) -> None:
    data = d.to_dict()
    assert isinstance(data["healthy"], bool)
    for item in data["diagnoses"]:
        assert 0 <= item["confidence"] <= 1 and item["evidence"] is not None


@FUZZ
@given(st.binary(max_size=20_000))
def test_random_bytes(blob):
    _check(diagnose_file(io.BytesIO(blob)))


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(LITERALS), st.text(max_size=200), st.sampled_from(["\n", "\r", "\x1b[31m", "(APIServer pid=1) ", "{", "'"])), max_size=80))
def test_literals_mixed_with_junk(parts):
    _check(diagnose_text("".join(parts)))


@settings(max_examples=5, deadline=10_000)
@given(st.sampled_from(LITERALS), st.integers(min_value=100_000, max_value=3_000_000))
def test_long_lines_with_a_literal_at_either_end(literal, size):
    blob = (literal + "x" * size + literal + "\n").encode()
    _check(diagnose_file(io.BytesIO(blob)))


@FUZZ
@given(st.sampled_from(["vllm serve ", "$ docker run ", "python3 -m sglang.launch_server ", "python -m vllm.entrypoints.openai.api_server "]),
       st.text(max_size=300))
def test_echoed_commands_with_junk(prefix, junk):
    """Whatever follows a launcher word, parsing the echoed command never crashes the diagnosis."""
    _check(diagnose_text(prefix + junk + "\nValueError: Total number of attention heads (64) must be divisible by tensor parallel size (3).\n"))
