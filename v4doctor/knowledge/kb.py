"""The knowledge base: data files under v4doctor/knowledge/, each record with its sources.

Loaded once per process. Files are TOML; each top-level array of tables is a record
kind (`[[model]]`, `[[gpu]]`, ...). Every record carries `sources` (URLs or release
notes); `tests/test_kb.py` enforces it.
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWLEDGE_DIR = Path(__file__).parent


class UnknownModelError(ValueError):
    pass


@dataclass(frozen=True)
class KnowledgeBase:
    data: dict[str, list[dict[str, Any]]]

    def records(self, kind: str) -> list[dict[str, Any]]:
        return self.data.get(kind, [])

    # ------------------------------------------------------------------ models
    @property
    def models(self) -> list[dict[str, Any]]:
        return self.records("model")

    def model(self, ref: str) -> dict[str, Any]:
        """Resolve `flash`, `pro`, a repo id or an alias (case-insensitive) to a model record."""
        key = ref.strip().lower().rstrip("/")
        for m in self.models:
            names = [m["key"], m["repo"], *m.get("aliases", [])]
            if key in (n.lower() for n in names):
                return m
        raise UnknownModelError(f"unknown model {ref!r}: try flash, pro, or a repo id such as deepseek-ai/DeepSeek-V4-Flash (`v4doctor models` lists them)")

    def find_model(self, ref: str) -> dict[str, Any] | None:
        try:
            return self.model(ref)
        except UnknownModelError:
            return None

    # ------------------------------------------------------------------ GPUs
    def gpu(self, name: str) -> dict[str, Any] | None:
        """Match a GPU by NVML name or a short name (`H200`, `RTX-PRO-6000`)."""
        norm = _norm(name)
        best = None
        for g in self.records("gpu"):
            for pattern in [g["key"], *g.get("aliases", []), *g.get("nvml_names", [])]:
                p = _norm(pattern)
                if norm == p:
                    return g
                if p and p in norm and (best is None or len(p) > best[0]):
                    best = (len(p), g)
        return best[1] if best else None

    # ------------------------------------------------------------------ troubleshooting
    def row(self, row_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records("row") if r["id"] == row_id), None)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@functools.lru_cache(maxsize=1)
def load() -> KnowledgeBase:
    data: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(KNOWLEDGE_DIR.glob("*.toml")):
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
        for kind, records in doc.items():
            if isinstance(records, list):
                for r in records:
                    r.setdefault("_file", path.name)
                data.setdefault(kind, []).extend(records)
    return KnowledgeBase(data)
