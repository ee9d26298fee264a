"""Log diagnosis: the root cause and the fix from a pasted engine log, in one streaming pass.

`diagnose_text(text)`, `diagnose_stream(lines)` and `diagnose_file(binary_fh)` return a
`Diagnosis`; `Diagnosis.to_dict()` is exactly the `diagnose --json` object.
"""

from __future__ import annotations

from dataclasses import replace
from typing import BinaryIO, Iterable, Iterator

from v4doctor.logs.diagnosis import Diagnosis, Item

__all__ = ["Diagnosis", "Item", "diagnose_text", "diagnose_stream", "diagnose_file", "diagnose_chunks"]


def diagnose_text(text: str) -> Diagnosis:
    """Diagnose a whole log held in a string."""
    return diagnose_stream(text.splitlines())


def diagnose_stream(lines: Iterable[str]) -> Diagnosis:
    """Diagnose a log given line by line (any iterable of str), in constant memory."""
    from v4doctor.logs.reader import chunks_from_lines

    return diagnose_chunks(chunks_from_lines(lines))


def diagnose_file(fh: BinaryIO) -> Diagnosis:
    """Diagnose a binary stream (a file or stdin's buffer); bad UTF-8 is replaced."""
    from v4doctor.logs.reader import chunks_from_binary

    return diagnose_chunks(chunks_from_binary(fh))


def diagnose_chunks(chunks: Iterator[str], host_checks: bool = True) -> Diagnosis:
    """The pipeline: scan -> LogFacts -> host checks -> rank -> fix commands."""
    from v4doctor.logs.command import base_command, corrected
    from v4doctor.logs.hostcheck import host_findings
    from v4doctor.logs.rank import rank
    from v4doctor.logs.scan import Scanner
    from v4doctor.logs.signatures import load_signatures
    from v4doctor.logs.tiers import refine

    scanner = Scanner(load_signatures())
    for chunk in chunks:
        scanner.feed(chunk)
    scan = scanner.result()
    findings = host_findings(scan.facts) if host_checks else []
    items = rank(scan, findings)
    items = refine(scan, items, lambda events: rank(replace(scan, events=events), findings))
    _add_memory_context(items, scan.facts)
    argv = base_command(scan.facts)
    for item in items:
        if argv and item.fix_flags:
            item.fix_command = corrected(argv, item.fix_flags, item.engines)
            if item.fix_command and not scan.facts.command and scan.facts.args_unparsed:
                item.fix += (f" The command is rebuilt from vLLM's non-default args: add back "
                             f"{', '.join(scan.facts.args_unparsed)}, which the log prints as objects.")
    return Diagnosis(scan.facts, items, scan.lines)


_MEMORY_CATEGORIES = ("kv_cache_too_small", "oom_weights")
_MEMORY_LABELS = {
    "model_loading": "model loading took {}", "kv_cache_available": "available KV cache memory {}",
    "kv_cache_tokens": "GPU KV cache size {}", "max_concurrency": "{}",
}


def _add_memory_context(items, facts) -> None:
    """Memory problems get the engine's own memory lines (weights, KV cache) as numbers and evidence."""
    if not facts.memory:
        return
    said = "; ".join(_MEMORY_LABELS[k].format(v) for k, v in facts.memory.items() if k in _MEMORY_LABELS)
    lines = [(n, facts.texts[n]) for k in facts.memory if (n := facts.lines.get(f"memory.{k}")) in facts.texts]
    for item in items:
        if item.category in _MEMORY_CATEGORIES:
            item.cause += f" The engine printed: {said}."
            item.evidence = sorted(set(item.evidence + lines[:2]))[:6]
