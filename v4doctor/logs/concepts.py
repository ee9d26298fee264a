"""Concept rules (`knowledge/concepts.toml`): engine-agnostic evidence per category, the tier after the signatures.

A rule's `[[concept.when]]` fires when all its `line` regexes match one normalised failure line (lower
case) and its `unless` does not; with `frame`, the line is the last traceback's exception line and a
frame path must match. The strongest firing rule names the category (ties: the earliest line, the
first cause). Sample: `torch.OutOfMemoryError: CUDA out of memory` -> oom_weights.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from v4doctor.knowledge.kb import load
from v4doctor.logs.normalise import Line, Window

MAX_CONFIDENCE = 0.38  # below every error signature's (0.4 and up)
# A line that echoes the launch configuration (vLLM's `non-default args`, SGLang's `ServerArgs(`, argparse's
# `Namespace(`, an engine's config dump): its option names (`chat_template`, `tool_call_parser`) are no evidence.
CONFIG_ECHO = re.compile(r"non-default args|\bserverargs\(|\bnamespace\(|\bengine_?args\b|initializing (?:a |an )?v\d+ llm engine|\bargs: *[{(]|\bconfig: *[{(]")


@dataclass(frozen=True)
class When:
    lines: tuple[re.Pattern, ...]
    unless: re.Pattern | None
    frame: re.Pattern | None
    weight: float
    any_line: bool = False  # also lines tagged INFO/WARNING (a phrase only a failure prints, logged at a low level)


@dataclass(frozen=True)
class Concept:
    id: str
    category: str
    title: str
    cause: str
    fix: str
    troubleshooting: str
    confidence: float
    whens: tuple[When, ...]


@dataclass(frozen=True)
class Hit:
    concept: Concept
    line: Line
    weight: float


def _when(record: dict) -> When:
    frame = record.get("frame")
    unless = record.get("unless")
    return When(tuple(re.compile(x) for x in record.get("line", [])), re.compile(unless) if unless else None,
                re.compile(frame) if frame else None, float(record.get("weight", 1.0)), bool(record.get("any_line", False)))


@functools.lru_cache(maxsize=1)
def load_concepts() -> tuple[Concept, ...]:
    """Every `[[concept]]` record, compiled once."""
    out = []
    for r in load().records("concept"):
        out.append(Concept(r["id"], r["category"], r["title"], r["cause"], r["fix"], r["troubleshooting"],
                           min(float(r["confidence"]), MAX_CONFIDENCE), tuple(_when(w) for w in r["when"])))
    return tuple(out)


def _fires(w: When, window: Window) -> Line | None:
    if w.frame is not None:
        line = window.exception
        matched = [ln for f, ln in zip(window.frames, window.frame_lines) if w.frame.search(f)]
        if not matched:
            return None
        if line is None:  # a traceback cut before its exception: the frames alone, for a rule that asks nothing more
            return matched[-1] if not w.lines else None
        return line if all(p.search(line.norm) for p in w.lines) and not (w.unless and w.unless.search(line.norm)) else None
    # an any-line rule: its first regex over the whole window's text once, then only the lines it hits
    lines = window.lines_matching(w.lines[0]) if w.any_line and w.lines else window.failures
    for line in lines:
        if w.any_line and line.quiet and CONFIG_ECHO.search(line.norm):
            continue  # the launch configuration echoed at INFO (`non-default args: {'chat_template': …}`) is no failure
        if all(p.search(line.norm) for p in w.lines) and not (w.unless and w.unless.search(line.norm)):
            return line
    return None


def hits(window: Window, concepts: tuple[Concept, ...] | None = None) -> list[Hit]:
    """Every concept that fires, strongest first, then by the line that shows it."""
    out = []
    for c in concepts if concepts is not None else load_concepts():
        best = None
        for w in c.whens:
            line = _fires(w, window)
            if line is not None and (best is None or (w.weight, -line.number) > (best.weight, -best.line.number)):
                best = Hit(c, line, w.weight)
        if best is not None:
            out.append(best)
    out.sort(key=lambda h: (-h.weight, h.line.number))
    return out
