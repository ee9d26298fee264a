"""Read what a GGUF input holds: find its files, read their headers, describe each model.

`load("model-00001-of-00005.gguf")` -> one record per model (see docs/weights.md). A
file that is not a GGUF at all, or cannot be opened, is bad input (WeightsInputError);
a GGUF whose header is cut short or hostile is a finding, recorded as `header_error`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from v4doctor.weights.describe import describe_model
from v4doctor.weights.files import Group, WeightsInputError, find
from v4doctor.weights.header import GGUFError, Header, read_header

Progress = Callable[[str, int, int], None]


def load(given: str, *, hash_files: bool = False, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Every model the input names, as `Facts.gguf` records; sha256 of each file when asked."""
    records = [read_group(g) for g in find(given)]
    if hash_files:
        from v4doctor.weights.hashing import sha256_file

        for rec in records:
            for f in rec["files"]:
                if not f.get("error"):
                    f["sha256"] = sha256_file(f["path"], progress)
    return records


def read_group(group: Group) -> dict[str, Any]:
    """Read every file's header; the first readable one carries the model's metadata."""
    heads: list[Header] = []
    broken: list[dict[str, Any]] = []
    for i, path in enumerate(group.paths):
        try:
            heads.append(read_header(path))
        except OSError as exc:
            raise WeightsInputError(f"cannot read {path}: {exc.strerror or exc}") from None
        except GGUFError as exc:
            if str(exc).startswith("not a GGUF file") and (i == 0 or group.kind == "file"):
                raise WeightsInputError(f"{path}: {exc}") from None
            broken.append(_broken(path, exc))
    record = describe_model(heads, group.kind, group.given) if heads else _empty(group)
    record["files"] = sorted(record["files"] + broken, key=lambda f: str(f["path"]))
    record["header_errors"] = [f["error"] for f in broken]
    record["missing_splits"] = list(group.missing)
    record["expected_split_count"] = group.expected_count
    record["ollama"] = group.ollama
    if group.ollama:
        for f in record["files"]:
            f["ollama_digest"] = group.ollama["digests"].get(str(f["path"]))
    return record


def _broken(path: Path, exc: GGUFError) -> dict[str, Any]:
    size = path.stat().st_size
    return {"path": str(path), "size": size, "error": str(exc), "truncated": "truncated" in str(exc)}


def _empty(group: Group) -> dict[str, Any]:
    """A model none of whose files has a readable header."""
    first = group.paths[0] if group.paths else Path(group.given)
    return {"input": group.given, "kind": group.kind, "path": str(first), "files": [], "architecture": None}
