"""Which publisher a GGUF comes from, by repo id or file name (pure; knowledge in gguf.toml)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_HF_REPO = re.compile(r"(?:huggingface\.co|hf\.co)/([\w.-]+/[\w.-]+)", re.IGNORECASE)


def repo_hints(record: dict[str, Any]) -> list[str]:
    """Repo ids a record names itself: `--repo`, an Ollama `hf.co/org/name` model, source URL keys."""
    hints = [record["repo"]] if record.get("repo") else []
    ollama = record.get("ollama") or {}
    texts = [ollama.get("name") or "", *(str(record.get(k) or "") for k in ("source_hf_repo", "source_repo_url", "repo_url", "source_url", "url"))]
    for text in texts:
        m = _HF_REPO.search(text)
        if m:
            hints.append(m.group(1).removesuffix(".git"))
        elif text.count("/") == 1 and not text.startswith(("http", "/")) and ":" not in text:
            hints.append(text)
    return list(dict.fromkeys(hints))


def identify(record: dict[str, Any], kb: Any) -> dict[str, Any] | None:
    """The [[gguf_source]] the record matches: a repo it names first, then its file name."""
    sources = kb.records("gguf_source")
    for repo in repo_hints(record):
        for s in sources:
            if repo.lower() in (r.lower() for r in s.get("repos", [])) or (s.get("repo_prefix") and repo.lower().startswith(s["repo_prefix"].lower())):
                return {**s, "matched_by": f"repo {repo}"}
    name = Path(str(record.get("path", ""))).name
    for s in sources:
        if s.get("filename_regex") and re.search(s["filename_regex"], name):
            return {**s, "matched_by": f"file name {name}"}
    return None


def candidate_repos(record: dict[str, Any], kb: Any, limit: int = 3) -> list[str]:
    """Repos worth asking the hub about: those the record names, else its publisher's repo whose name fits the file."""
    hints = repo_hints(record)
    if hints:
        return hints[:limit]
    source = identify(record, kb)
    if not source:
        return []
    name = Path(str(record.get("path", ""))).name.lower()
    fitting = [r for r in source.get("repos", []) if name.startswith(r.split("/")[1].lower().removesuffix("-gguf"))]
    fitting.sort(key=len, reverse=True)
    return (fitting or source.get("repos", []))[:limit]


def known_file(record_file: dict[str, Any], kb: Any) -> dict[str, Any] | None:
    """A [[gguf_file]] with this file's name and size (and sha256 when both are known)."""
    name = Path(str(record_file.get("path", ""))).name
    for f in kb.records("gguf_file"):
        if Path(f["path"]).name == name and f.get("size") == record_file.get("size"):
            sha = record_file.get("sha256")
            if not sha or sha.lower() == f["sha256"].lower():
                return f
    return None
