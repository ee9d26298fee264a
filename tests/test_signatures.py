"""The generic signature test, over EVERY `v4doctor/knowledge/signatures*.toml` (group A and B).

Each signature compiles and follows the schema; its literal is in every line its regex matches
(the prefilter never hides a match); each sample exists, names its public source, and makes
diagnose report that signature; healthy start-up logs give no diagnosis of severity error.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import LOGS, ROOT
from v4doctor.knowledge.kb import load
from v4doctor.logs import diagnose_file
from v4doctor.logs.reader import clean_line
from v4doctor.logs.signatures import compile_signature, load_signatures, signature_errors, signature_records

SIGNATURES = load_signatures()
HEALTHY = sorted(LOGS.glob("healthy-*.log"))
SOURCE = re.compile(r"^# source: https://\S+", re.M)


def _sample(path: str):
    """A sample path, as written in the record: `fixtures/logs/x.log` (from the repo root) or `x.log` (under fixtures/logs/)."""
    return ROOT / path if path.startswith("fixtures/") else LOGS / path


def _diagnose(path):
    with open(path, "rb") as fh:
        return diagnose_file(fh)


def test_every_record_compiles_and_follows_the_schema():
    assert not signature_errors(), "\n".join(signature_errors())
    assert len(SIGNATURES) == len(signature_records(load()))


def test_signatures_load_from_every_signatures_file():
    files = {r["_file"] for r in signature_records(load())}
    on_disk = {p.name for p in (ROOT / "v4doctor" / "knowledge").glob("signatures*.toml")}
    assert "signatures.toml" in files and files == on_disk


@pytest.mark.parametrize("sig", SIGNATURES, ids=lambda s: s.id)
def test_signature_samples_exist_and_name_their_source(sig):
    for sample in sig.samples:
        path = _sample(sample)
        assert path.is_file(), f"{sig.id}: sample {sample} missing"
        assert path.parent == LOGS, f"{sig.id}: samples live under fixtures/logs/"
        head = path.read_text(encoding="utf-8", errors="replace")[:2000]
        assert SOURCE.search(head), f"{sig.id}: {sample} has no '# source: https://…' header"


@pytest.mark.parametrize("sig", SIGNATURES, ids=lambda s: s.id)
def test_literal_is_in_every_regex_match(sig):
    """Run the regex WITHOUT the prefilter over the samples: every matching line must contain the literal."""
    hits = 0
    for sample in sig.samples:
        for raw in _sample(sample).read_text(encoding="utf-8", errors="replace").splitlines():
            line = clean_line(raw)
            if sig.pattern.search(line):
                hits += 1
                assert sig.literal in line, f"{sig.id}: regex matches a line without the literal {sig.literal!r}: {line[:200]}"
    assert hits, f"{sig.id}: its regex matches no line of its samples"


@pytest.mark.parametrize("sig", SIGNATURES, ids=lambda s: s.id)
def test_each_sample_makes_diagnose_report_the_signature(sig):
    for sample in sig.samples:
        d = _diagnose(_sample(sample))
        assert sig.id in d.matched(), f"{sig.id}: not reported for {sample}; got {sorted(d.matched())}"
        if sig.role != "wrapper":
            cats = [i.category for i in d.items]
            assert sig.category in cats, f"{sig.id}: no {sig.category} diagnosis for {sample}; got {cats}"


def test_there_are_healthy_logs_for_each_engine():
    engines = {p.name.split("-")[1] for p in HEALTHY}
    assert {"vllm", "sglang", "llamacpp"} <= engines, f"healthy logs cover only {engines}"


@pytest.mark.parametrize("path", HEALTHY, ids=lambda p: p.name)
def test_healthy_logs_match_no_error_signature(path):
    """No-hit rows: a successful start-up must not be diagnosed as a failure (elastic-recheck's rule)."""
    d = _diagnose(path)
    errors = [(i.id, i.evidence[:1]) for i in d.items if i.severity == "error"]
    assert d.healthy and not errors, f"{path.name}: {errors}"


def test_a_broken_record_is_rejected_with_its_id():
    from v4doctor.logs.signatures import SignatureError

    record = dict(signature_records(load())[0], regex="(unclosed")
    with pytest.raises(SignatureError, match=record["id"]):
        compile_signature(record)
    record = dict(signature_records(load())[0], category="not_a_category")
    with pytest.raises(SignatureError, match="category"):
        compile_signature(record)


@pytest.mark.parametrize("sig", SIGNATURES, ids=lambda s: s.id)
def test_troubleshooting_row_exists(sig):
    assert load().row(sig.troubleshooting) is not None, f"{sig.id}: no troubleshooting row {sig.troubleshooting!r}"
