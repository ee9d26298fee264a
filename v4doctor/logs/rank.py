"""Root-cause ranking: the first cause, not the last line.

Causes come first, in the order the log shows them (a too-old driver or engine printed early
explains what follows). A consequence (an NCCL watchdog timeout after an OOM) is kept but
ranked after the causes with lower confidence; a wrapper (`Engine core initialization failed`)
only adds its line to the cause above it. A failure no signature knows becomes `other`, with
low confidence and the first error lines, never an invented cause.
"""

from __future__ import annotations

import re
import string
from typing import Iterable

from v4doctor.judge.findings import Finding
from v4doctor.logs.advice import extend
from v4doctor.logs.diagnosis import Item
from v4doctor.logs.logfacts import LogFacts
from v4doctor.logs.reader import evidence_text
from v4doctor.logs.scan import Event, ScanResult

MAX_ITEM_EVIDENCE = 6
OTHER_CONFIDENCE = 0.2
_SEVERITY = {"error": 0, "warning": 1, "info": 2}
_ROLE = {"cause": 0, "consequence": 1, "wrapper": 2}
# troubleshooting row or check area -> diagnose category, for host-check findings
ROW_CATEGORY = {
    "engine-too-old": "arch_unsupported_engine_too_old",
    "transformers-unknown-deepseek-v4": "arch_unsupported_engine_too_old",
    "sglang-transformers-5": "arch_unsupported_engine_too_old",
    "driver-too-old-cuda13": "driver_too_old_or_cuda_mismatch",
    "gpu-arch-unsupported": "gpu_arch_unsupported",
    "deepgemm-unsupported-arch": "gpu_arch_unsupported",
    "triton-fp8e4nv-sm80": "quantization_unsupported",
    "weights-do-not-fit": "oom_weights",
    "guide-pro-oom-8xh100": "oom_weights",
    "kv-cache-too-small": "kv_cache_too_small",
    "tp-size-mismatch": "tp_size_mismatch",
    "guide-trust-remote-code": "trust_remote_code",
    "no-chat-template": "tokenizer_or_template",
    "quantization-unsupported": "quantization_unsupported",
}
AREA_CATEGORY = {
    "driver": "driver_too_old_or_cuda_mismatch", "gpu": "gpu_arch_unsupported",
    "engine": "arch_unsupported_engine_too_old", "memory": "oom_weights", "disk": "disk_full",
    "docker": "docker_gpu_runtime", "gguf": "gguf_bad_file_or_arch", "hub": "hf_auth_or_gated",
}
_FACT_FOR_AREA = {"engine": "engine_version", "driver": "driver_version", "gpu": "gpus", "memory": "model"}


class _NotShown(dict):
    def __missing__(self, key: str) -> str:
        return "(not in the log)"


_SENTENCE = re.compile(r"(?<=[.;!])\s+(?=[A-Z(`])")


def fill(template: str, groups: dict[str, str]) -> str:
    """A cause/fix template with the values the log gave. A sentence that needs a value the log lacked is left
    out (the others say what is known); a one-sentence text says the value is not in the log. Never a `?`."""
    fmt = string.Formatter()
    if _fields(template) <= groups.keys():
        return fmt.vformat(template, (), groups)
    kept = [part for part in _SENTENCE.split(template) if _fields(part) <= groups.keys()]
    if kept:
        return " ".join(fmt.vformat(part, (), groups) for part in kept)
    return fmt.vformat(template, (), _NotShown(groups))


def rank(scan: ScanResult, findings: Iterable[Finding] = ()) -> list[Item]:
    """Ranked diagnoses from the scan's events and the host checks' findings."""
    events = sorted(scan.events.values(), key=lambda e: e.line)
    items = _merge([_from_event(e) for e in events if e.signature.role != "wrapper"])
    for item in items:  # only the lines kept are redacted and cut: most of a busy log's matches are merged away
        item.evidence = _texts(item.evidence)
    wrappers = [e for e in events if e.signature.role == "wrapper"]
    for f in findings:
        _fold_finding(items, f, scan.facts)
    causes = sorted((i for i in items if i.role == "cause" and i.severity == "error"), key=_position)
    if causes:
        _explain_consequences(items, causes[0])
        for w in wrappers:
            _attach_wrapper(causes, w)
    elif not any(i.severity == "error" for i in items) and (wrappers or (scan.failures and not _came_up_after(scan))):
        items.append(_other(wrappers, scan))
    items.sort(key=lambda i: (_SEVERITY.get(i.severity, 3), _ROLE.get(i.role, 3), _position(i), -i.confidence))
    return items


def _came_up_after(scan: ScanResult) -> bool:
    """The server reported itself ready after the last failure line: that failure did not stop it."""
    last_failure = max(n for n, _ in scan.last_failures) if scan.last_failures else 0
    return scan.facts.lines.get("ready", 0) > last_failure


def _texts(raw: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Evidence as shown from (line, raw line) pairs. A line number names one line, so sorting and dedup
    before this step keep the same lines as after it."""
    return [(n, evidence_text(line)) for n, line in raw]


def _position(item: Item) -> int:
    """Where the log first shows it; a finding tied to no line comes after those that are."""
    return item.line or 1 << 62


def _from_event(e: Event) -> Item:
    s, groups = e.signature, extend(e.signature.id, e.groups)
    return Item(
        id=s.id, category=s.category, severity=s.severity, confidence=s.confidence,
        title=fill(s.title, groups), cause=fill(s.cause, groups), fix=fill(s.fix, groups),
        troubleshooting=s.troubleshooting, evidence=list(e.evidence), line=e.line, role=s.role,
        matched=[s.id], fix_flags={k: fill(v, groups) for k, v in s.fix_flags if all(g in groups for g in _fields(v))},
        engines=s.engines,
    )


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _merge(items: list[Item]) -> list[Item]:
    """One diagnosis per category: the first signature names it, the others add evidence."""
    by_cat: dict[tuple[str, str], Item] = {}
    for item in items:
        key = (item.category, item.role)
        first = by_cat.setdefault(key, item)
        if first is item:
            continue
        if _SEVERITY.get(item.severity, 3) < _SEVERITY.get(first.severity, 3):
            # a warning printed before the error must not downgrade it: the error leads
            item.line = min((n for n in (first.line, item.line) if n), default=0)
            by_cat[key] = item
            first, item = item, first
        first.matched += item.matched
        first.evidence = sorted(set(first.evidence + item.evidence))[:MAX_ITEM_EVIDENCE]
        first.confidence = max(first.confidence, item.confidence)
        first.fix_flags = {**item.fix_flags, **first.fix_flags}
    return list(by_cat.values())


def _fold_finding(items: list[Item], f: Finding, facts: LogFacts) -> None:
    """A host-check finding joins the diagnosis of its category, or becomes its own."""
    category = ROW_CATEGORY.get(f.troubleshooting or "") or AREA_CATEGORY.get(f.category, "other")
    line = facts.lines.get(_FACT_FOR_AREA.get(f.category, "engine_version"), 0)
    evidence = [(line, facts.texts[line])] if line in facts.texts else []
    same = next((i for i in items if i.category == category and i.role == "cause"), None)
    if same is not None:
        same.matched.append(f.id)
        same.confidence = min(1.0, same.confidence + 0.1)
        same.cause += f" The host checks agree: {f.title} [{f.id}]."
        if f.troubleshooting == "weights-do-not-fit" and f.severity.value == "error" and "(the log: " not in same.title:
            # the launch plan in the log shows the weights cannot fit at all: say that first, not the last allocation's shortfall
            same.title = f"{f.title} [{f.id}] (the log: {same.title})"
        same.evidence = sorted(set(evidence + same.evidence))[:MAX_ITEM_EVIDENCE]
        same.line = min(x for x in (line, same.line) if x) if line or same.line else 0
        return
    fix = f.fix.text + "".join(f"\n  $ {c}" for c in f.fix.commands) if f.fix else ""
    items.append(Item(
        id=f.id, category=category, severity=f.severity.value, confidence=0.7 if f.severity.value == "error" else 0.5,
        title=f.title, cause=f.detail, fix=fix, troubleshooting=f.troubleshooting, evidence=evidence,
        line=line, matched=[f.id],
    ))


def _explain_consequences(items: list[Item], cause: Item) -> None:
    """A consequence is explained by the first cause, whichever process printed first (ranks interleave)."""
    for i in items:
        if i.role == "consequence":
            i.confidence = round(i.confidence * 0.5, 2)
            i.cause += f" The {cause.category} failure at line {cause.line} explains it."


def _attach_wrapper(causes: list[Item], w: Event) -> None:
    """The wrapper line joins the last cause printed above it (or the first cause)."""
    above = [c for c in causes if c.line <= w.line]
    target = above[-1] if above else causes[0]
    target.matched.append(w.signature.id)
    target.evidence = sorted(set(target.evidence + _texts(w.evidence[:1])))[:MAX_ITEM_EVIDENCE]


def _other(wrappers: list[Event], scan: ScanResult) -> Item:
    """An unrecognised failure: say so, show the first and last error lines, guess nothing."""
    lines = [x for w in wrappers for x in w.context + w.evidence[:1]] + scan.failures + scan.last_failures
    ordered = sorted(dict(lines).items())  # (line, raw text): one number, one line
    # the first lines (where it started) and the last ones (a traceback ends with the exception)
    evidence = _texts(ordered if len(ordered) <= MAX_ITEM_EVIDENCE else ordered[:2] + ordered[2 - MAX_ITEM_EVIDENCE:])
    first = wrappers[0].signature if wrappers else None
    return Item(
        id=first.id if first else "SIG-OTHER", category="other", severity="error",
        confidence=first.confidence if first else OTHER_CONFIDENCE,
        title="Unrecognised failure" + (f": {first.title}" if first else ""),
        cause="v4doctor does not recognise this failure, so it names no cause; the error lines it saw are shown.",
        fix="Read the first error line below (the earliest is usually the cause) and search it in the engine's issues; "
            "`v4doctor run` checks the host and the launch plan.",
        troubleshooting=None, evidence=evidence, line=evidence[0][0] if evidence else 0, role="cause",
        matched=[w.signature.id for w in wrappers],
    )
