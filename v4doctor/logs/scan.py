"""One streaming pass over a log: a combined literal prefilter over each chunk, regexes only on hit lines.

The prefilter (`prefilter.py`) finds every literal of the signatures, the LogFacts extractors
and the generic failure markers at once. Only a bounded amount is kept: per signature its first
match and a few evidence lines, a small ring of recent failure lines, and the LogFacts.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

from v4doctor.logs.logfacts import EXTRACTORS, READY_MARKERS, LogFacts
from v4doctor.logs.prefilter import compile_prefilter, re2_module, related
from v4doctor.logs.reader import ANSI_BYTES, MAX_LINE, clean_line, evidence_text
from v4doctor.logs.signatures import Signature

MAX_EVIDENCE = 3
HEAD_BYTES = 64 << 10  # the start and the end of a log are kept as bytes for the tiers after the signatures
TAIL_BYTES = 128 << 10  # (tiers.py): a small log is kept whole, a long one by its two ends
# ... and as many lines at most: the tiers work per line, and 64 KB of empty lines (what is left of
# `ESC ] x` lines once the codes are removed) is 65,536 of them (1 MiB of such a log took 1-3 s, now linear)
HEAD_LINES, TAIL_LINES = 2048, 4096
# A line that reports a failure even when no signature knows it: an exception, a Python
# traceback, a llama.cpp `error loading model`, a crash.
FAILURE_LITERALS = ("Error", "Exception", "Traceback (most recent call last)", "error", "Segmentation fault", "core dumped", "FATAL", "Aborted",
                    "out of memory")
_READY_BYTES = frozenset(x.encode() for x in READY_MARKERS)
_MARKERS = tuple(x.encode() for x in FAILURE_LITERALS)
# A line its own logger tagged INFO/WARNING/DEBUG is no failure, whatever exception name it quotes
# (vLLM `WARNING 04-24 10:11:12 [x.py:1]`, SGLang `[…] WARNING`, llama.cpp `0.00.998.066 W `, Python `WARNING:`).
NOT_AN_ERROR_LEVEL = re.compile(
    r"(?:^|[\s)\]])(?:INFO|WARNING|WARN|DEBUG)\s+\d\d-\d\d\s|^\[[^\]]*\]\s(?:INFO|WARNING|DEBUG)\s|"
    r"^\d+\.\d\d\.\d{3}\.\d{3}\s[IWD]\s|^(?:INFO|WARNING|DEBUG):"
)
# Also the Go/Rust/CLI wording: `Error: …` (Ollama, Docker, candle), `Error response from daemon`,
# `error :`, and a bare `out of memory` with no exception name.
FAILURE = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(?:Error|Exception)\b(?::|$)|\berror(?:: | loading | :)|"
    r"(?:^|\s)Error(?::|\sresponse from daemon)|\bout of memory\b|"
    r"Segmentation fault|core dumped|\bFATAL\b|^Aborted"
)


@dataclass
class Event:
    """One signature's matches: the first (its values), a few evidence lines and a count."""

    signature: Signature
    line: int
    groups: dict[str, str]
    evidence: list[tuple[int, str]] = field(default_factory=list)  # (line, raw text): rank makes evidence of those it keeps
    context: list[tuple[int, str]] = field(default_factory=list)  # (line, raw text): failure lines just above a wrapper
    count: int = 0  # matches seen while the signature was still searched for (it stops after MAX_EVIDENCE)


@dataclass
class ScanResult:
    events: dict[str, Event]
    facts: LogFacts
    failures: list[tuple[int, str]]  # first few failure lines, (line, raw text): rank makes evidence of what it shows
    last_failures: list[tuple[int, str]]  # the last few, likewise
    lines: int
    head: bytes = b""  # the log's first HEAD_BYTES (whole lines)
    tail: bytes = b""  # its last TAIL_BYTES (whole lines), overlapping the head in a short log
    tail_start: int = 1  # the line number of the tail's first line
    # the tiers' normalised window of these lines, built once per scan (tiers.window); not part of the result's value
    window: Any = field(default=None, repr=False, compare=False)


def _index(items: Iterable, key) -> list[tuple[str, list]]:
    """Group items by their literal, so a hit line tests each literal once."""
    out: dict[str, list] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return list(out.items())


class _Plan:
    """What a set of live signatures and extractors compiles to: the prefilter, and per literal its text,
    signatures and extractors. The first (largest) set also has `related` and the hit-line memo `candidates`:
    pruning only removes literals, so a scan keeps using those."""

    def __init__(self, active: tuple[Signature, ...], extractors: tuple, first: bool = False):
        self.active, self.extractors = active, extractors  # held: the cache key is their ids
        # The failure markers are not in the main pattern: on an error-dense log nearly every line has one, and
        # only the first and the last few failure lines are kept, so they are looked for where needed (`_settle`).
        literals = [s.literal for s in active] + [x.literal for x in extractors]
        self.prefilter = compile_prefilter(literals)
        sigs, exs = dict(_index(active, lambda s: s.literal)), dict(_index(extractors, lambda x: x.literal))
        self.dispatch = {k.encode(): (k, sigs.get(k, ()), exs.get(k, ())) for k in set(sigs) | set(exs)}
        if first:
            self.related = related(tuple(sorted({x.encode() for x in literals})))
            self.candidates: dict[frozenset, tuple[bytes, ...]] = {}


_PLANS: dict[tuple, _Plan] = {}
_PLANS_LOCK = threading.Lock()
MAX_PLANS = 4  # signature sets (a reload, re2 hidden in a test) each compile one
MAX_MEMO = 4096  # hit-line literal sets memoised per plan


def _first_plan(active: tuple[Signature, ...], extractors: tuple) -> _Plan:
    """The compiled plan a scan starts from, shared by every scan (a server compiles it once). The pruned
    plans of a long log are its own: cached, their programs would only hold memory."""
    key = (tuple(map(id, active)), tuple(map(id, extractors)), id(re2_module()))
    plan = _PLANS.get(key)
    if plan is None:
        plan = _Plan(active, extractors, first=True)
        with _PLANS_LOCK:
            while len(_PLANS) >= MAX_PLANS:
                del _PLANS[next(iter(_PLANS))]
            _PLANS[key] = plan
    return plan


class _Hit:
    """One hit line: its raw text, number, and the cleaned message, made on first use."""

    __slots__ = ("raw", "number", "plain", "_line")

    def __init__(self, raw: str, number: int):
        self.raw, self.number, self._line = raw, number, None
        # Without ANSI codes or carriage returns the cleaned line is a piece of the raw one: a literal
        # missing from the raw line is missing from it too, and the line need not be cleaned to know.
        self.plain = "\x1b" not in raw and "\r" not in raw

    @property
    def line(self) -> str:
        if self._line is None:
            self._line = clean_line(self.raw)
        return self._line


class Scanner:
    """Feed byte chunks of whole lines; `result()` gives what was found."""

    def __init__(self, signatures: Iterable[Signature]):
        self.signatures = tuple(signatures)
        self.facts = LogFacts()
        self.events: dict[str, Event] = {}
        self.failures: list[tuple[int, str]] = []
        self.recent: deque[tuple[int, str]] = deque(maxlen=4)  # (line, raw text): the last failure lines
        self.lines = 0
        self.head, self.tail, self.tail_start = b"", b"", 1
        self.head_cut = False  # the head reached HEAD_LINES lines before HEAD_BYTES
        self.chunk, self.base, self.at, self.chunk_lines = b"", 0, 0, 0  # the chunk being scanned, its first line's number - 1, the hit line's offset
        self._stale = False  # a chunk was scanned since the last prune
        self.full: set[str] = set()  # signatures whose evidence is full: a match adds nothing
        self.finished: set[int] = set()  # ids of extractors with nothing left to fill
        first = self._use(_first_plan(self.signatures, tuple(EXTRACTORS)))
        self.related, self.candidates = first.related, first.candidates  # pruning only removes literals

    def _use(self, plan: _Plan) -> _Plan:
        self.active, self.extractors = list(plan.active), list(plan.extractors)
        self.prefilter, self.dispatch = plan.prefilter, plan.dispatch
        return plan

    def _candidates(self, found: frozenset) -> tuple[bytes, ...]:
        """The literals to test on a hit line: those found, and those they may hide (memoised per set). Longest
        first, so that of two signatures matching one line the more specific leads whatever the hash seed
        (`Capture cuda graph failed: CUDA out of memory` before `CUDA out of memory`)."""
        out = self.candidates.get(found)
        if out is None:
            union = found.union(*(self.related.get(f, ()) for f in found))
            out = tuple(sorted(union, key=lambda x: (-len(x), x)))
            if len(self.candidates) < MAX_MEMO:
                self.candidates[found] = out
        return out

    def _prune(self) -> None:
        """Stop looking for literals that can add nothing: a fact already read, a signature with its evidence full.
        A log is mostly the same start-up lines; this keeps the regex work on the lines that still matter."""
        extractors = [x for x in self.extractors if x.fact is None or x.fact not in self.facts.lines]
        active = [s for s in self.active if s.id not in self.events or len(self.events[s.id].evidence) < MAX_EVIDENCE]
        if len(extractors) != len(self.extractors) or len(active) != len(self.active):
            self._use(_Plan(tuple(active), tuple(extractors)))

    def feed(self, chunk: bytes) -> None:
        """Scan one chunk of whole lines (each ends with a newline); only hit lines are decoded. Failure lines are
        found afterwards, only as many as are kept (`_settle`)."""
        if self._stale:  # pruned before the next chunk, not after each: the last chunk's prune is never needed
            self._prune()
        if b"\x1b" in chunk:
            chunk = ANSI_BYTES.sub(b"", chunk)
        self._keep_ends(chunk)
        self.chunk, self.base, self.chunk_lines = chunk, self.lines, chunk.count(b"\n")
        base, counted, start, end, found = self.lines, 0, 0, -1, set()
        for pos, literal in self.prefilter.hits(chunk):
            if pos < end:  # another literal on the line being collected
                found.add(literal)
                continue
            if found:
                self.at = start
                self._line(chunk[start:end].decode("utf-8", "replace"), base + 1, found)
            start = max(chunk.rfind(b"\n", 0, pos) + 1, pos - MAX_LINE)
            end = chunk.find(b"\n", pos)
            end = len(chunk) if end < 0 else min(end, pos + MAX_LINE)
            base += chunk.count(b"\n", counted, start)
            counted, found = start, {literal}
        if found:
            self.at = start
            self._line(chunk[start:end].decode("utf-8", "replace"), base + 1, found)
        self._settle()
        self.lines += self.chunk_lines
        self._stale = True

    def _is_failure(self, raw: str) -> bool:
        return bool(FAILURE.search(clean_line(raw))) and not NOT_AN_ERROR_LEVEL.search(raw)

    def _read(self, start: int, number: int) -> tuple[int, str] | None:
        """The failure line at `start` as (number, raw), or None when the marker is no failure there."""
        chunk = self.chunk
        end = chunk.find(b"\n", start)
        end = len(chunk) if end < 0 else min(end, start + MAX_LINE)
        raw = chunk[start:end].decode("utf-8", "replace")
        return (number, raw) if self._is_failure(raw) else None

    def _line_start(self, pos: int) -> int:
        return max(self.chunk.rfind(b"\n", 0, pos) + 1, pos - MAX_LINE)

    def _first_failure_lines(self, want: int) -> list[tuple[int, str]]:
        """The first `want` failure lines of the chunk: the nearest marker (`bytes.find` per marker, C speed,
        no second pattern pass over the chunk), its line checked, then on from the line's end."""
        chunk, out, lo = self.chunk, [], 0
        number, counted = self.base + 1, 0
        at = {m: chunk.find(m) for m in _MARKERS}  # each marker's next position (-1: none left), updated lazily
        while len(out) < want:
            for m, i in at.items():
                if 0 <= i < lo:
                    at[m] = chunk.find(m, lo)
            hits = [i for i in at.values() if i >= 0]
            if not hits:
                break
            start = self._line_start(min(hits))
            number += chunk.count(b"\n", counted, start)
            counted = start
            line = self._read(start, number)
            if line:
                out.append(line)
            lo = chunk.find(b"\n", start) + 1 or len(chunk)
        return out

    def _last_failure_lines(self, hi: int, want: int) -> list[tuple[int, str]]:
        """The last `want` failure lines above offset `hi` of the chunk, the newest first (`bytes.rfind` per
        marker), stopping at `want`."""
        chunk, out = self.chunk, []
        below, counted = chunk.count(b"\n", hi), hi  # newlines from hi to the chunk's end
        number_at_end = self.base + self.chunk_lines
        at = {m: chunk.rfind(m, 0, hi) for m in _MARKERS}  # each marker's last position below hi, updated lazily
        while hi > 0 and len(out) < want:
            for m, i in at.items():
                if i >= hi or i + len(m) > hi:
                    at[m] = chunk.rfind(m, 0, hi)
            pos = max(at.values())
            if pos < 0:
                break
            start = self._line_start(pos)
            below += chunk.count(b"\n", start, counted)
            counted = start
            line = self._read(start, number_at_end - below + 1)
            if line:
                out.append(line)
            hi = start
        return out[::-1]

    def _settle(self) -> None:
        """The chunk's first failure lines (while fewer than MAX_EVIDENCE are kept) and its last ones."""
        if len(self.failures) < MAX_EVIDENCE:
            self.failures += self._first_failure_lines(MAX_EVIDENCE - len(self.failures))
        for item in self._last_failure_lines(len(self.chunk), self.recent.maxlen):
            self.recent.append(item)

    def _recent_before(self, number: int) -> list[tuple[int, str]]:
        """The last few failure lines above the hit line being scanned (a wrapper's context)."""
        mine = self._last_failure_lines(self.at, self.recent.maxlen)
        return ([x for x in self.recent if x[0] < number] + mine)[-self.recent.maxlen:]

    def _keep_ends(self, chunk: bytes) -> None:
        """Keep the first and last bytes of the log on line boundaries (slices per chunk, no per-line work)."""
        if len(self.head) < HEAD_BYTES and not self.head_cut:
            head = self.head + chunk[:HEAD_BYTES - len(self.head)]
            if head.count(b"\n") > HEAD_LINES:  # its first HEAD_LINES lines (HEAD_LINES finds, once)
                end = -1
                for _ in range(HEAD_LINES):
                    end = head.find(b"\n", end + 1)
                head, self.head_cut = head[:end + 1], True
            self.head = head
        if len(chunk) >= TAIL_BYTES:
            both, first = chunk, self.lines + 1
        else:
            both, first = self.tail + chunk, self.tail_start
        if len(both) > TAIL_BYTES:
            cut = both.find(b"\n", len(both) - TAIL_BYTES) + 1
            first += both.count(b"\n", 0, cut)
            both = both[cut:]
        if both.count(b"\n") > TAIL_LINES:  # its last TAIL_LINES lines (at most TAIL_LINES + 1 finds per chunk)
            cut = len(both)
            for _ in range(TAIL_LINES + 1):
                cut = both.rfind(b"\n", 0, cut)
            first += both.count(b"\n", 0, cut + 1)
            both = both[cut + 1:]
        self.tail, self.tail_start = both, first

    def _line(self, raw: str, number: int, found: set[bytes]) -> None:
        """One hit line: the literals the prefilter saw on it (plus any they may hide) pick what runs.
        A signature whose evidence is full, or an extractor with nothing left to fill, is a no-op and skipped;
        the line is cleaned only when something still runs on it."""
        candidates = self._candidates(frozenset(found))
        if _READY_BYTES.issuperset(candidates):  # a server-ready line: only its number matters
            self.facts.lines["ready"] = number
            return
        hit = _Hit(raw, number)
        for literal in candidates:
            work = self.dispatch.get(literal)
            if work is not None:
                text, sigs, extractors = work
                if sigs and (not hit.plain or text in raw):
                    self._signatures(sigs, text, hit)
                if extractors and text in raw:  # a marker may sit in the prefix clean_line strips ("[launcher.py:46]")
                    self._extractors(extractors, hit)

    def _signatures(self, sigs: tuple[Signature, ...], text: str, hit: _Hit) -> None:
        """The signatures of one literal that can still add evidence, on a line that may hold it."""
        full = self.full
        sigs = [s for s in sigs if s.id not in full]
        if sigs and text in hit.line:
            for sig in sigs:
                m = sig.pattern.search(hit.line)
                if m:
                    self._record(sig, m, hit.raw, hit.number)

    def _extractors(self, extractors: tuple, hit: _Hit) -> None:
        """The extractors of one literal that can still fill a fact (once done, an extractor stays done:
        facts are only ever filled)."""
        finished = self.finished
        for x in extractors:
            if id(x) in finished:
                continue
            if x.done(self.facts):
                finished.add(id(x))
                continue
            self._extract(x, hit.line, hit.raw, hit.number)

    def _extract(self, x, line: str, raw: str, number: int) -> None:
        m = x.pattern.search(line) or x.pattern.search(raw)
        if m:
            known = len(self.facts.lines)
            x.handle(self.facts, m, number)
            if len(self.facts.lines) > known:  # a fact read for the first time keeps its line as evidence
                self.facts.texts.setdefault(number, evidence_text(raw))

    def _record(self, sig: Signature, m: re.Match, raw: str, number: int) -> None:
        event = self.events.get(sig.id)
        if event is None:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            context = self._recent_before(number) if sig.role == "wrapper" else []
            event = self.events[sig.id] = Event(sig, number, groups, context=context)
        event.count += 1
        if len(event.evidence) < MAX_EVIDENCE:
            event.evidence.append((number, raw))
            if len(event.evidence) == MAX_EVIDENCE:
                self.full.add(sig.id)

    def result(self) -> ScanResult:
        head = self.head[:self.head.rfind(b"\n") + 1] if len(self.head) >= HEAD_BYTES else self.head
        return ScanResult(self.events, self.facts, list(self.failures), list(self.recent), self.lines,
                          head, self.tail, self.tail_start)
