"""The diagnose categories are the project's own definitions (docs/diagnose.md): every label and every
category a signature, concept rule or the learned model can give is defined there."""

from __future__ import annotations

import re
from pathlib import Path

from bench.diagnose_accuracy import load_cases
from v4doctor.logs.concepts import load_concepts
from v4doctor.logs.learned import load_model
from v4doctor.logs.signatures import CATEGORIES, load_signatures

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "diagnose.md"
LOGS = ROOT / "fixtures" / "logs"


def defined() -> set[str]:
    """The categories the definitions table of docs/diagnose.md names (first column, in backticks)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Categories: what each one means", 1)[1].split("\n## ", 1)[0]
    return {m for row in section.splitlines() if row.startswith("| `") for m in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_definitions_table_is_there_and_has_every_category():
    names = defined()
    assert len(names) >= 20
    assert set(CATEGORIES) <= names, sorted(set(CATEGORIES) - names)
    assert {"healthy", "insufficient_evidence"} <= names


def test_every_corpus_and_holdout_label_is_a_defined_category():
    names = defined()
    for folder in (LOGS / "corpus", LOGS / "holdout"):
        for case in load_cases(folder):
            assert case.expect in names, (case.name, case.expect)
            assert all(c in names for c in case.also), (case.name, case.also)


def test_signatures_concepts_and_the_model_only_name_defined_categories():
    names = defined()
    assert {s.category for s in load_signatures()} <= names
    assert {c.category for c in load_concepts()} <= names
    assert set(load_model()["classes"]) <= names


def test_a_label_outside_the_definitions_is_caught(tmp_path):
    """The check can fail: a made-up label is not in the table."""
    (tmp_path / "x.log").write_text("# source: https://github.com/a/b/issues/1\n# expect: cosmic_rays\nboom\n")
    assert load_cases(tmp_path)[0].expect not in defined()
