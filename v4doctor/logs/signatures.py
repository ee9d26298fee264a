"""Log signatures: data records (`[[signature]]` in every `knowledge/signatures*.toml`), compiled once.

A signature fingerprints one known problem as an engine words it: a case-sensitive
`literal` that every matching line contains (the cheap prefilter), a `regex` with named
groups for the values (sizes, lengths, versions), and templates for the cause and fix.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from typing import Any

from v4doctor.knowledge.kb import KnowledgeBase, load
from v4doctor.logs.advice import computed_names

CATEGORIES = (
    "oom_weights", "kv_cache_too_small", "arch_unsupported_engine_too_old", "trust_remote_code",
    "driver_too_old_or_cuda_mismatch", "gpu_arch_unsupported", "nccl_or_shm", "disk_full",
    "hf_auth_or_gated", "hf_rate_limit_or_network", "corrupt_or_incomplete_weights",
    "gguf_bad_file_or_arch", "gguf_gibberish_quality", "docker_gpu_runtime", "tp_size_mismatch",
    "port_in_use", "tokenizer_or_template", "quantization_unsupported", "slow_download",
    "slow_long_context_prefill", "other",
)
SEVERITIES = ("error", "warning", "info")
ROLES = ("cause", "consequence", "wrapper")
REQUIRED = ("id", "category", "engines", "severity", "literal", "regex", "title", "cause", "fix",
            "troubleshooting", "role", "confidence", "sources", "samples")


class SignatureError(ValueError):
    """A signature record that does not follow the schema; the message names it and the field."""


@dataclass(frozen=True)
class Signature:
    """One known problem, as data. Sample record id: SIG-KV-CACHE-TOO-SMALL."""

    id: str
    category: str
    engines: tuple[str, ...]
    severity: str
    literal: str
    pattern: re.Pattern
    title: str
    cause: str
    fix: str
    troubleshooting: str
    role: str
    confidence: float
    sources: tuple[str, ...]
    samples: tuple[str, ...]
    fix_flags: tuple[tuple[str, str], ...] = ()
    file: str = ""

    def match(self, line: str) -> re.Match | None:
        """The regex match on one cleaned line, only tried when the literal is in it."""
        return self.pattern.search(line) if self.literal in line else None


def template_fields(template: str) -> set[str]:
    """The `{name}` placeholders of a cause/fix template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def compile_signature(record: dict[str, Any]) -> Signature:
    """Validate one `[[signature]]` record and compile its regex; SignatureError names what is wrong."""
    sid = record.get("id", "<no id>")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise SignatureError(f"{sid}: missing {', '.join(missing)}")
    _check_values(sid, record)
    try:
        pattern = re.compile(record["regex"])
    except re.error as exc:
        raise SignatureError(f"{sid}: regex does not compile: {exc}") from None
    names = set(pattern.groupindex) | computed_names(sid)
    fix_flags = tuple((str(k), str(v)) for k, v in record.get("fix_flags", {}).items())
    for field, template in [("cause", record["cause"]), ("fix", record["fix"]), ("title", record["title"]), *fix_flags]:
        extra = template_fields(template) - names
        if extra:
            raise SignatureError(f"{sid}: {field} uses {sorted(extra)}, which the regex does not capture")
    return Signature(
        id=sid, category=record["category"], engines=tuple(record["engines"]), severity=record["severity"],
        literal=record["literal"], pattern=pattern, title=record["title"], cause=record["cause"], fix=record["fix"],
        troubleshooting=record["troubleshooting"], role=record["role"], confidence=float(record["confidence"]),
        sources=tuple(record["sources"]), samples=tuple(record["samples"]), fix_flags=fix_flags,
        file=record.get("_file", ""),
    )


def _check_values(sid: str, record: dict[str, Any]) -> None:
    if not re.fullmatch(r"SIG-[A-Z0-9-]+", sid):
        raise SignatureError(f"{sid}: id must look like SIG-UPPER-CASE")
    checks = [
        ("category", record["category"] in CATEGORIES, f"one of {', '.join(CATEGORIES)}"),
        ("severity", record["severity"] in SEVERITIES, f"one of {', '.join(SEVERITIES)}"),
        ("role", record["role"] in ROLES, f"one of {', '.join(ROLES)}"),
        ("literal", isinstance(record["literal"], str) and len(record["literal"]) >= 4, "a string of 4+ characters"),
        ("confidence", isinstance(record["confidence"], (int, float)) and 0 <= record["confidence"] <= 1, "a number in 0..1"),
        ("sources", bool(record["sources"]) and all(str(s).startswith("http") for s in record["sources"]), "a non-empty list of URLs"),
        ("samples", bool(record["samples"]), "a non-empty list of fixtures/logs paths"),
    ]
    for field, ok, want in checks:
        if not ok:
            raise SignatureError(f"{sid}: {field} must be {want}, got {record[field]!r}")


def signature_records(kb: KnowledgeBase | None = None) -> list[dict[str, Any]]:
    """Every `[[signature]]` record of every `knowledge/signatures*.toml`, in file order."""
    kb = kb or load()
    return [r for r in kb.records("signature") if str(r.get("_file", "")).startswith("signatures")]


@functools.lru_cache(maxsize=1)
def _compiled() -> tuple[tuple[Signature, ...], tuple[str, ...]]:
    """Every valid signature, and one message per record that is not (a duplicate id included)."""
    sigs: list[Signature] = []
    errors: list[str] = []
    seen: set[str] = set()
    for record in signature_records():
        try:
            sig = compile_signature(record)
        except SignatureError as exc:
            errors.append(f"{record.get('_file', '?')}: {exc}")
            continue
        if sig.id in seen:
            errors.append(f"{sig.file}: {sig.id}: duplicate signature id")
            continue
        seen.add(sig.id)
        sigs.append(sig)
    return tuple(sigs), tuple(errors)


def load_signatures() -> tuple[Signature, ...]:
    """All valid signatures, compiled once. A broken record is left out (one bad record never stops a
    diagnosis); `signature_errors()` lists them and tests/test_signatures.py fails on any."""
    return _compiled()[0]


def signature_errors() -> tuple[str, ...]:
    return _compiled()[1]
