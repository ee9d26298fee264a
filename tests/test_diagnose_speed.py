"""The diagnoser's shortcuts give the same answer as the long way: skipped no-op handlers, the fast value
reader, RE2 read directly, and a tie on one line that no longer depends on the hash seed."""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import LOGS, ROOT
from v4doctor.logs import diagnose_text
from v4doctor.logs.logfacts import _PY_VALUE, EXTRACTORS, LogFacts, parse_py_items
from v4doctor.logs.prefilter import _Re2Prefilter, compile_prefilter
from v4doctor.logs.reader import chunks_from_lines, clean_line
from v4doctor.logs.scan import Scanner
from v4doctor.logs.signatures import load_signatures

_FIXTURE_LINES = [line for p in sorted(LOGS.rglob("*.log")) for line in p.read_text(errors="replace").splitlines()]


def _literal_eval(raw: str):
    try:
        return ("ok", ast.literal_eval(raw))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ("skipped",)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list("'\"\\0123456789.e- ax\x00\r\t[]{}é") + ["True", "None", "False"]), max_size=12).map("".join))
def test_printed_values_read_as_ast_reads_them(text):
    """Each `'key': value` of a printed dict reads as ast.literal_eval reads the value (or is left out when
    ast refuses it: `007`, a NUL in a string)."""
    for m in re.finditer(_PY_VALUE, text):
        got = parse_py_items("{'k': " + m.group() + "}")
        want = _literal_eval(m.group())
        assert repr(("ok", got["k"]) if "k" in got else ("skipped",)) == repr(want), m.group()


@pytest.mark.parametrize("raw", ["007", "-0", "00.5", "1e999", "-0.0", "1e-05", "'a\\'b'", "'\\True'", "'x\x00y'", "'é'", "9" * 5000])
def test_printed_value_edge_cases(raw):
    got = parse_py_items("{'k': " + raw + "}")
    assert repr(("ok", got["k"]) if "k" in got else ("skipped",)) == repr(_literal_eval(raw))


def _filled_facts() -> LogFacts:
    """LogFacts with every fact a handler declares filled (read from real logs, then the rest set); a fresh copy."""
    return copy.deepcopy(_filled())


@functools.lru_cache(maxsize=1)
def _filled() -> LogFacts:
    f = diagnose_text("\n".join(_FIXTURE_LINES[:4000])).facts
    for name in ("engine", "engine_version", "model", "command", "cuda_version", "driver_version", "torch_version"):
        f.set(name, "x", 1)
    for name in ("args", "command_args"):
        f.set(name, {"x": 1}, 1)
    f.set("args_unparsed", ["x"], 1)
    for key in ("model_loading", "kv_cache_available", "kv_cache_tokens", "max_concurrency"):
        f.memory.setdefault(key, "1 GiB")
    return f


def _matches(x):
    for line in _FIXTURE_LINES:
        if x.literal in line:
            m = x.pattern.search(clean_line(line)) or x.pattern.search(line)
            if m:
                yield m


@pytest.mark.parametrize("x", [x for x in EXTRACTORS if getattr(x.handle, "fills", ())], ids=lambda x: x.literal)
def test_an_extractor_declares_every_fact_it_fills(x):
    """An extractor is skipped once its `fills` are filled: so it may fill nothing else (hit: a real line
    on empty facts fills only declared facts), and on filled facts it changes nothing (the skip is exact)."""
    found = list(_matches(x))
    if not found:
        pytest.skip(f"no fixture line matches {x.literal!r}")
    for m in found:
        empty = LogFacts()
        x.handle(empty, m, 7)
        changed = {k for k, v in dataclasses.asdict(empty).items() if v != getattr(LogFacts(), k)} - {"lines", "texts"}
        declared = {n.split(".")[0] for n in x.handle.fills}
        assert changed <= declared, f"{x.literal}: fills {sorted(changed - declared)} without declaring it"
        full = _filled_facts()
        assert x.done(full)  # (hit)
        before = dataclasses.asdict(full)
        x.handle(full, m, 10**6)
        assert dataclasses.asdict(full) == before


def test_accumulating_extractors_are_never_skipped():
    """No-hit: GPU and server-ready lines accumulate (every GPU, the last ready line), so they declare nothing."""
    for x in EXTRACTORS:
        if x.fact is None:
            assert not x.done(_filled_facts()), x.literal


def test_re2_read_directly_finds_what_finditer_finds():
    """The RE2 program read without the wrapper's Match objects gives the same (offset, literal) list."""
    pytest.importorskip("re2")
    sigs = load_signatures()
    pre = compile_prefilter([s.literal for s in sigs] + [x.literal for x in EXTRACTORS])
    assert isinstance(pre, _Re2Prefilter) and pre._match is not None
    for chunk in chunks_from_lines(_FIXTURE_LINES):
        assert pre.hits(chunk) == pre._public(chunk) and pre.hits(chunk)


def test_scans_share_one_compiled_plan():
    """A server compiles the prefilter once: a second scan reuses the first one's."""
    sigs = load_signatures()
    assert Scanner(sigs).prefilter is Scanner(sigs).prefilter


_LEAD = "import sys; from v4doctor.logs import diagnose_file; print(diagnose_file(open(sys.argv[1], 'rb')).items[0].id)"


def test_two_signatures_on_one_line_lead_whatever_the_hash_seed():
    """`Capture cuda graph failed: CUDA out of memory` matches both the SGLang CUDA-graph OOM and the generic
    torch OOM on the same line: the more specific one leads in every process (it once followed the hash seed)."""
    path = LOGS / "a-sglang-cuda-graph-oom.log"
    leads = set()
    for seed in ("1", "3", "5"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _LEAD, str(path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
        leads.add(out.stdout.strip())
    assert leads == {"SIG-SGLANG-CUDA-GRAPH-OOM"}
