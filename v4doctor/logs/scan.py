"""One streaming pass over a log: a combined literal prefilter over each chunk, regexes only on hit lines.

The prefilter is one alternation of every literal (signatures, LogFacts extractors, generic
failure markers), run with RE2 when `google-re2` is installed (a DFA: hundreds of MB/s) and
with Python's `re` otherwise. Only a bounded amount is kept: per signature its first match
and a few evidence lines, a small ring of recent failure lines, and the LogFacts.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable

from v4doctor.logs.logfacts import EXTRACTORS, LogFacts
from v4doctor.logs.reader import ANSI, MAX_LINE, clean_line, evidence_text
from v4doctor.logs.signatures import Signature

MAX_EVIDENCE = 3
# A line that reports a failure even when no signature knows it: an exception, a Python
# traceback, a llama.cpp `error loading model`, a crash.
FAILURE_LITERALS = ("Error", "Exception", "Traceback (most recent call last)", "error", "Segmentation fault", "core dumped", "FATAL", "Aborted")
FAILURE = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(?:Error|Exception)\b(?::|$)|\berror(?:: | loading )|"
    r"Segmentation fault|core dumped|\bFATAL\b|^Aborted"
)


@dataclass
class Event:
    """One signature's matches: the first (its values), a few evidence lines and a count."""

    signature: Signature
    line: int
    groups: dict[str, str]
    evidence: list[tuple[int, str]] = field(default_factory=list)
    context: list[tuple[int, str]] = field(default_factory=list)  # failure lines just above a wrapper
    count: int = 0


@dataclass
class ScanResult:
    events: dict[str, Event]
    facts: LogFacts
    failures: list[tuple[int, str]]  # first few failure lines
    last_failures: list[tuple[int, str]]  # the last few
    lines: int


def _compile_prefilter(literals: Iterable[str]):
    """One pattern that finds any literal; RE2 if available."""
    alternation = "|".join(re.escape(x) for x in sorted(set(literals), key=len, reverse=True))
    try:
        import re2  # google-re2

        opts = re2.Options()
        opts.max_mem = 64 << 20
        return re2.compile(alternation, opts)
    except Exception:  # not installed, or a pattern RE2 refuses: the stdlib is always right
        return re.compile(alternation)


class Scanner:
    """Feed chunks of whole lines; `result()` gives what was found."""

    def __init__(self, signatures: Iterable[Signature]):
        self.signatures = tuple(signatures)
        self.facts = LogFacts()
        self.events: dict[str, Event] = {}
        self.failures: list[tuple[int, str]] = []
        self.recent: deque[tuple[int, str]] = deque(maxlen=4)
        self.lines = 0
        literals = [s.literal for s in self.signatures] + [lit for lit, _, _ in EXTRACTORS] + list(FAILURE_LITERALS)
        self.prefilter = _compile_prefilter(literals)

    def feed(self, chunk: str) -> None:
        """Scan one chunk of whole lines (each ends with a newline)."""
        if "\x1b" in chunk:
            chunk = ANSI.sub("", chunk)
        base, counted, next_start = self.lines, 0, 0
        for m in self.prefilter.finditer(chunk):
            pos = m.start()
            if pos < next_start:
                continue
            start = max(chunk.rfind("\n", 0, pos) + 1, pos - MAX_LINE)
            end = chunk.find("\n", pos)
            end = len(chunk) if end < 0 else min(end, pos + MAX_LINE)
            base += chunk.count("\n", counted, start)
            counted = start
            self._line(chunk[start:end], base + 1)
            next_start = end + 1 if chunk.startswith("\n", end) else end
        self.lines += chunk.count("\n")

    def _line(self, raw: str, number: int) -> None:
        line = clean_line(raw)
        for sig in self.signatures:
            m = sig.match(line)
            if m:
                self._record(sig, m, raw, number)
        for literal, pattern, handle in EXTRACTORS:
            if literal in raw:  # a marker may sit in the prefix clean_line strips ("[launcher.py:46]")
                m = pattern.search(line) or pattern.search(raw)
                if m:
                    handle(self.facts, m, number)
                    if number in self.facts.lines.values():
                        self.facts.texts.setdefault(number, evidence_text(raw))
        if FAILURE.search(line):
            item = (number, evidence_text(raw))
            if len(self.failures) < MAX_EVIDENCE:
                self.failures.append(item)
            self.recent.append(item)

    def _record(self, sig: Signature, m: re.Match, raw: str, number: int) -> None:
        event = self.events.get(sig.id)
        if event is None:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            context = [x for x in self.recent if x[0] < number] if sig.role == "wrapper" else []
            event = self.events[sig.id] = Event(sig, number, groups, context=context)
        event.count += 1
        if len(event.evidence) < MAX_EVIDENCE:
            event.evidence.append((number, evidence_text(raw)))

    def result(self) -> ScanResult:
        return ScanResult(self.events, self.facts, list(self.failures), list(self.recent), self.lines)
