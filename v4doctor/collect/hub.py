"""Hugging Face facts: token (its source, never its value), cache, offline mode, cached files.

Reads the environment and the cache folder the way huggingface_hub's `constants.py`
does, without importing huggingface_hub (it costs ~0.3 s at start-up).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from v4doctor.collect.software import package_version
from v4doctor.facts import HubFacts, TargetFacts, Unknown, known
from v4doctor.weights.hub import endpoint

_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's ENV_VARS_TRUE_VALUES


def collect(target: TargetFacts | None = None, env: Mapping[str, str] | None = None) -> HubFacts:
    """Read the hub settings from `env` (default: os.environ) and what the cache holds for the target."""
    env = os.environ if env is None else env
    home = hf_home(env)
    configured, source = token_source(env, home)
    cache = cache_dir(env, home)
    facts = HubFacts(
        token_configured=configured,
        token_source=source,
        cache_dir=str(cache),
        offline=env_true(env.get("HF_HUB_OFFLINE") or env.get("TRANSFORMERS_OFFLINE")),
        hf_xet=known(package_version(("hf_xet",))),
        hf_transfer=known(package_version(("hf_transfer",))),
        endpoint=endpoint(env),
    )
    repo = repo_id(target) if target is not None else Unknown("no target model")
    facts.cached_files, facts.cached_bytes, facts.incomplete_bytes = cached(cache, repo)
    return facts


def env_true(value: str | None) -> bool:
    """An environment switch read as huggingface_hub reads it: `1`, `ON`, `YES`, `TRUE` (any case)."""
    return bool(value) and value.upper() in _TRUE


def _expand(raw: str, env: Mapping[str, str]) -> Path:
    """`~/x` with the HOME of `env` (os.path.expanduser would read this process's HOME)."""
    raw = os.path.expandvars(raw)
    if raw == "~" or raw.startswith("~/"):
        raw = (env.get("HOME") or str(Path.home())) + raw[1:]
    return Path(raw)


def hf_home(env: Mapping[str, str]) -> Path:
    default = os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return _expand(env.get("HF_HOME") or default, env)


def cache_dir(env: Mapping[str, str], home: Path) -> Path:
    """HF_HUB_CACHE, else the legacy HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub."""
    return _expand(env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE") or str(home / "hub"), env)


def token_source(env: Mapping[str, str], home: Path) -> tuple[bool, str | Unknown]:
    """Where a token would come from: "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN" or "token file <path>"."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if (env.get(name) or "").strip():
            return True, name
    path = _expand(env.get("HF_TOKEN_PATH") or str(home / "token"), env)
    try:
        has_token = bool(path.read_text(encoding="utf-8", errors="replace").strip())
    except FileNotFoundError:
        return False, Unknown(f"no HF_TOKEN, no HUGGING_FACE_HUB_TOKEN, no token file at {path}")
    except OSError as exc:
        return False, Unknown(f"cannot read token file {path}: {exc.strerror or exc}")
    if has_token:
        return True, f"token file {path}"
    return False, Unknown(f"token file {path} is empty")


def repo_id(target: TargetFacts) -> str | Unknown:
    """The hub repo the target names: an alias (`flash`) through the knowledge base, or `org/name`."""
    if known(target.local_path):
        return Unknown(f"the target is a local path ({target.local_path}), not a hub repo")
    from v4doctor.knowledge.kb import load

    record = load().find_model(target.model)
    if record is not None:
        return record["repo"]
    if target.model.count("/") == 1:
        return target.model
    return Unknown(f"{target.model!r} is neither a known model nor an org/name repo id")


def repo_folder(cache: Path, repo: str) -> Path:
    """`deepseek-ai/DeepSeek-V4-Flash` -> <cache>/models--deepseek-ai--DeepSeek-V4-Flash."""
    return cache / ("models--" + repo.replace("/", "--"))


def cached(cache: Path, repo: str | Unknown) -> tuple:
    """(files in any snapshot, bytes of those files, bytes of `.incomplete` downloads)."""
    if not known(repo):
        return repo, repo, repo
    folder = repo_folder(cache, repo)
    if not folder.is_dir():
        return [], 0, 0
    files, size = _snapshot_files(folder / "snapshots")
    return files, size, _incomplete_bytes(folder / "blobs")


def _snapshot_files(snapshots: Path) -> tuple[list[str], int]:
    """Relative paths across all revisions; bytes counted once per blob (symlinks resolved)."""
    names: set[str] = set()
    seen: set[tuple[int, int]] = set()
    size = 0
    for path in snapshots.glob("*/**/*") if snapshots.is_dir() else ():
        try:
            st = path.stat()  # follows the symlink into blobs/; a dangling one raises
        except OSError:
            continue
        if path.is_dir():
            continue
        names.add(path.relative_to(snapshots).as_posix().split("/", 1)[1])
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            size += st.st_size
    return sorted(names), size


def _incomplete_bytes(blobs: Path) -> int:
    total = 0
    for path in blobs.glob("*.incomplete") if blobs.is_dir() else ():
        try:
            total += path.stat().st_size
        except OSError:
            continue
    return total
