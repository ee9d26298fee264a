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
        """Resolve `flash`, `pro`, a repo id or an alias (case-insensitive) to a model record. Ollama's and
        llama.cpp's hub names resolve to their repo: `hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL`."""
        key = hub_repo(ref).lower()
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
        """Match a GPU by NVML name or a short name (`H200`, `RTX-PRO-6000`), whole model names only:
        "NVIDIA H20-3e" is not an H20, "NVIDIA H100 NVL" not an H100 SXM. A known name may carry extra
        words that only describe memory or packaging ("NVIDIA H100 80GB HBM3", "A100-SXM4-80GB")."""
        words = _words(name)
        best = None
        for g in self.records("gpu"):
            for pattern in [g["key"], *g.get("aliases", []), *g.get("nvml_names", [])]:
                p = _words(pattern)
                if not p:
                    continue
                if p == words:
                    return g
                if words[:len(p)] == p and all(_DESCRIPTOR.fullmatch(w) for w in words[len(p):]) and (best is None or len(p) > best[0]):
                    best = (len(p), g)
        return best[1] if best else None

    # ------------------------------------------------------------------ troubleshooting
    def row(self, row_id: str) -> dict[str, Any] | None:
        return next((r for r in self.records("row") if r["id"] == row_id), None)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


_VENDOR = {"nvidia", "geforce", "tesla", "amd", "instinct", "quadro"}
# Words that describe memory or packaging, never a different model: 80gb, hbm3, hbm3e, sxm4, sxm5.
_DESCRIPTOR = re.compile(r"\d+gb?|hbm\d*e?|sxm\d*|gpu")


def _words(text: str) -> list[str]:
    """Lower-case words of a GPU name without the vendor words: "NVIDIA A100-SXM4-80GB" -> [a100, sxm4, 80gb]."""
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in _VENDOR]


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


_HUB_PREFIXES = ("https://huggingface.co/", "http://huggingface.co/", "huggingface.co/", "hf.co/")


def hub_repo(ref: str) -> str:
    """The repo id of a model reference: `hf.co/OWNER/REPO:QUANT` (Ollama, `llama-server -hf`) and
    `OWNER/REPO:QUANT` -> `OWNER/REPO`; anything else stripped of surrounding space and a trailing slash."""
    ref = ref.strip().rstrip("/")
    low = ref.lower()
    for prefix in _HUB_PREFIXES:
        if low.startswith(prefix):
            ref = ref[len(prefix):]
            break
    if ref.count("/") == 1 and ":" in ref.split("/", 1)[1]:
        ref = ref.rsplit(":", 1)[0]
    return ref


def hub_quant(ref: str) -> str | None:
    """The quant tag of `hf.co/OWNER/REPO:QUANT` or `OWNER/REPO:QUANT` (`UD-Q4_K_XL`), else None."""
    tail = ref.strip().rstrip("/").rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[1] if ":" in tail and "/" in ref else None
