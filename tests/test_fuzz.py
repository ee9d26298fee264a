"""Issue #16: the fuzz targets of bench/fuzz.py on a short budget with a fixed seed (CI runs these;
`python bench/fuzz.py` runs the long one). Zero crashes, leaks, hangs, non-strict JSON, rewrites
that do not parse and second fixes that change something."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz  # noqa: E402

CASES = {"logs": 300, "commands": 300, "compose": 120, "gguf": 500, "api": 60}


@pytest.mark.fuzz
@pytest.mark.parametrize("target", list(CASES))
def test_fuzz_target_finds_nothing(target):
    counts = fuzz.run(target, CASES[target], seed=16, budget_s=60)
    assert counts.cases >= min(CASES[target], 50)
    assert counts.failures == 0, counts.line() + "\n" + "\n".join(counts.examples)
