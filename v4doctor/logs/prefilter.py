"""The literal prefilter: find every signature / LogFacts / failure literal in a byte chunk at once.

With `google-re2` installed it is one RE2 alternation (a DFA over bytes, so no offset conversion);
without it, one `bytes.find` sweep per literal. `related()` tells, for a literal found, which others
its match may hide (finditer reports non-overlapping matches only), so a hit line is still tested
for every literal it contains.
"""

from __future__ import annotations

import functools
import re
from typing import Iterable, NamedTuple


def compile_prefilter(literals: Iterable[str]):
    """One bytes pattern that finds any literal: RE2 if available (a DFA; on bytes, no offset conversion),
    else one `bytes.find` sweep per literal, which beats a stdlib alternation several times over."""
    encoded = sorted({x.encode() for x in literals}, key=len, reverse=True)
    try:
        import re2  # google-re2

        opts = re2.Options()
        opts.max_mem = 64 << 20
        return re2.compile(b"|".join(re.escape(x) for x in encoded), opts)
    except Exception:  # not installed, or a pattern RE2 refuses
        return _FindPrefilter(encoded)


class _Hit(NamedTuple):
    pos: int
    literal: bytes

    def start(self) -> int:
        return self.pos

    def group(self) -> bytes:
        return self.literal


class _FindPrefilter:
    """The stdlib fallback: every occurrence of every literal, in order (overlaps included)."""

    def __init__(self, literals: list[bytes]):
        self.literals = literals

    def finditer(self, chunk: bytes) -> list[_Hit]:
        hits = []
        for lit in self.literals:
            i = chunk.find(lit)
            while i >= 0:
                hits.append(_Hit(i, lit))
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
