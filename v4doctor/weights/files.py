"""Find the GGUF files a user means: a file, a split set, a directory, or an Ollama model name.

A split set is `<prefix>-00001-of-00005.gguf` ... `-00005-of-00005.gguf` in one folder.
Ollama keeps `manifests/<host>/<namespace>/<model>/<tag>` (JSON, one layer of media type
`application/vnd.ollama.image.model` per weights file) and `blobs/sha256-<hex>` under
`$OLLAMA_MODELS`, default `~/.ollama/models`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from v4doctor.weights.describe import SPLIT_RE

MAX_FILES = 512  # a directory walk stops here
MAX_MANIFEST_BYTES = 1 << 20
OLLAMA_MODEL_MEDIA = "application/vnd.ollama.image.model"
_NAME_PART = re.compile(r"[\w.-]+")


class WeightsInputError(ValueError):
    """The input names no GGUF we can read: one line for the user, exit 2."""


@dataclass
class Group:
    """One model's files, in shard order; `missing` lists absent shard numbers (1-based)."""

    kind: str  # file | split | ollama
    given: str
    paths: list[Path]
    missing: list[int] = field(default_factory=list)
    expected_count: int | None = None
    ollama: dict | None = None  # {"name", "manifest", "digests": {path: "sha256:..."}}


def find(given: str) -> list[Group]:
    """Resolve one user input to groups of GGUF files; raises WeightsInputError when it names none."""
    path = Path(given).expanduser()
    try:
        return _find(path, given)
    except OSError as exc:
        raise WeightsInputError(f"cannot read {given}: {exc.strerror or exc}") from None


def _find(path: Path, given: str) -> list[Group]:
    if path.is_dir():
        groups = _directory(path, given)
        if not groups:
            raise WeightsInputError(f"{given}: no .gguf files in this directory")
        return groups
    if path.exists():
        return [_from_file(path, given)]
    manifest = ollama_manifest(given)
    if manifest is not None:
        return [_from_ollama(given, manifest)]
    raise WeightsInputError(f"{given}: no such file or directory, and no Ollama model of that name under {ollama_dir()}")


def _from_file(path: Path, given: str) -> Group:
    m = SPLIT_RE.match(path.name)
    if not m:
        return Group("file", given, [path])
    return _split_group(path.parent, m.group("prefix"), int(m.group("count")), given)


def _split_group(folder: Path, prefix: str, count: int, given: str) -> Group:
    present, missing = [], []
    for no in range(1, count + 1):
        shard = folder / f"{prefix}-{no:05d}-of-{count:05d}.gguf"
        (present if shard.exists() else missing).append(shard if shard.exists() else no)
    return Group("split", given, present, missing, count)


def _directory(folder: Path, given: str) -> list[Group]:
    """Every model under a folder (and one level of sub-folders, as Unsloth repos are laid out)."""
    files = sorted([*folder.glob("*.gguf"), *folder.glob("*/*.gguf")])[:MAX_FILES]
    groups, seen = [], set()
    for f in files:
        m = SPLIT_RE.match(f.name)
        key = (f.parent, m.group("prefix"), int(m.group("count"))) if m else f
        if key in seen:
            continue
        seen.add(key)
        groups.append(_split_group(*key, given) if m else Group("file", given, [f]))
    return groups


# --------------------------------------------------------------------------- Ollama
def ollama_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or "~/.ollama/models").expanduser()


def manifest_path(name: str, root: Path | None = None) -> Path | None:
    """`deepseek-v4-flash` -> manifests/registry.ollama.ai/library/deepseek-v4-flash/latest;
    `hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL` -> manifests/hf.co/unsloth/DeepSeek-V4-Flash-GGUF/UD-Q4_K_XL."""
    name = name.strip()
    if not name or ".." in name or name.startswith("/") or "\\" in name:
        return None
    *dirs, last = name.split("/")
    model, _, tag = last.partition(":")
    host, namespace = (dirs[0], dirs[1:]) if dirs and "." in dirs[0] else ("registry.ollama.ai", dirs)
    parts = [host, *(namespace or ["library"]), model, tag or "latest"]
    if not all(_NAME_PART.fullmatch(p) for p in parts):
        return None
    return (root or ollama_dir()) / "manifests" / Path(*parts)


def ollama_manifest(name: str) -> tuple[Path, dict] | None:
    """The manifest for an Ollama model name, or None when there is none."""
    path = manifest_path(name)
    if path is None or not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise WeightsInputError(f"{path}: too large for an Ollama manifest")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WeightsInputError(f"cannot read Ollama manifest {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise WeightsInputError(f"{path}: not an Ollama manifest (no layers)")
    return path, data


def _from_ollama(name: str, found: tuple[Path, dict]) -> Group:
    path, data = found
    blobs = ollama_dir() / "blobs"
    digests: dict[str, str] = {}
    missing = []
    for i, layer in enumerate(x for x in data["layers"] if isinstance(x, dict) and x.get("mediaType") == OLLAMA_MODEL_MEDIA):
        digest = str(layer.get("digest", ""))
        blob = blobs / digest.replace(":", "-")
        if blob.is_file():
            digests[str(blob)] = digest
        else:
            missing.append(i + 1)
    if not digests and not missing:
        raise WeightsInputError(f"Ollama model {name}: its manifest has no GGUF model layer (a cloud model?)")
    paths = [Path(p) for p in digests]
    info = {"name": name, "manifest": str(path), "digests": digests}
    return Group("ollama", name, paths, missing, len(digests) + len(missing), info)
