"""The literal prefilter: find every signature / LogFacts / failure literal in a byte chunk at once.

With `google-re2` installed it is one RE2 alternation (a DFA over bytes, so no offset conversion);
without it, one `bytes.find` sweep per literal. `related()` tells, for a literal found, which others
its match may hide (finditer reports non-overlapping matches only), so a hit line is still tested
for every literal it contains.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable


def re2_module():
    """google-re2 when it imports, else None (the stdlib fallback); part of a compiled plan's identity."""
    try:
        import re2
    except ImportError:
        return None
    return re2


def compile_prefilter(literals: Iterable[str]):
    """One bytes pattern that finds any literal: RE2 if available (a DFA; on bytes, no offset conversion),
    else one `bytes.find` sweep per literal, which beats a stdlib alternation several times over.
    Either has `hits(chunk)`: (offset, literal) of every match, in order."""
    encoded = sorted({x.encode() for x in literals}, key=len, reverse=True)
    re2 = re2_module()
    if re2 is None:
        return _FindPrefilter(encoded)
    try:
        opts = re2.Options()
        opts.max_mem = 64 << 20
        return _Re2Prefilter(re2, re2.compile(b"|".join(re.escape(x) for x in encoded), opts))
    except Exception:  # a pattern RE2 refuses
        return _FindPrefilter(encoded)


class _Re2Prefilter:
    """The RE2 alternation, its matches read from the compiled program itself: the wrapper's Python `Match`
    objects cost more than the search. Checked against the public `finditer` once per process (`_direct_works`);
    that is the fallback."""

    def __init__(self, re2, compiled):
        self.compiled = compiled
        self._match, self._anchor = (compiled._regexp.Match, re2._Anchor.UNANCHORED) if _direct_works(re2) else (None, None)

    def hits(self, chunk: bytes) -> list[tuple[int, bytes]]:
        return self._public(chunk) if self._match is None else self._direct(chunk)

    def _public(self, chunk: bytes) -> list[tuple[int, bytes]]:
        return [(m.start(), m.group()) for m in self.compiled.finditer(chunk)]

    def _direct(self, chunk: bytes) -> list[tuple[int, bytes]]:
        match, anchor, end, pos, out = self._match, self._anchor, len(chunk), 0, []
        while True:
            (start, stop), *_ = match(anchor, chunk, pos, end)
            if start < 0:
                return out
            out.append((start, chunk[start:stop]))
            pos = stop if stop > start else stop + 1


@functools.lru_cache(maxsize=2)
def _direct_works(re2) -> bool:
    """This google-re2's compiled program answers as its `finditer` does (checked once, on a small pattern);
    another layout of its internals falls back to the public API."""
    try:
        probe = _Re2Prefilter.__new__(_Re2Prefilter)
        probe.compiled = re2.compile(b"abc|bcd|cd|x")
        probe._match, probe._anchor = probe.compiled._regexp.Match, re2._Anchor.UNANCHORED
        sample = b"-abcd-bcdx\ncd"
        return probe._direct(sample) == probe._public(sample) == [(1, b"abc"), (6, b"bcd"), (9, b"x"), (11, b"cd")]
    except Exception:
        return False


class _FindPrefilter:
    """The stdlib fallback: every occurrence of every literal, in order (overlaps included)."""

    def __init__(self, literals: list[bytes]):
        self.literals = literals

    def hits(self, chunk: bytes) -> list[tuple[int, bytes]]:
        hits = []
        for lit in self.literals:
            i = chunk.find(lit)
            while i >= 0:
                hits.append((i, lit))
                i = chunk.find(lit, i + 1)
        hits.sort()
        return hits


@functools.lru_cache(maxsize=8)
def related(literals: tuple[bytes, ...]) -> dict[bytes, tuple[bytes, ...]]:
    """For each literal, the others a prefilter match on it can hide: those inside it or overlapping its end
    (finditer reports non-overlapping matches only). Computed once per literal set."""
    out = {}
    for y in literals:
        out[y] = tuple(x for x in literals if x != y and (x in y or _overlaps(y, x)))
    return out


def _overlaps(y: bytes, x: bytes) -> bool:
    """Some proper suffix of y is a prefix of x."""
    first = x[:1]
    i = y.find(first, 1)
    while i > 0:
        if x.startswith(y[i:]):
            return True
        i = y.find(first, i + 1)
    return False
