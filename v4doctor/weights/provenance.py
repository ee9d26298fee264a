"""Where a GGUF comes from: its files' size (and sha256, when hashed) against a hub repo's LFS metadata.

For each candidate repo: `model_info(files_metadata=True)` resolves the revision to a commit
and lists the files with their sizes; the files with the same names are then read again
with `get_paths_info` at that commit, for the LFS sha256 and size to compare. Ollama blobs
are named by their sha256, so a hashed blob is checked against its own digest too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from v4doctor.weights import hub
from v4doctor.weights.sources import candidate_repos, known_file


def provenance(record: dict[str, Any], kb: Any, *, revision: str = "main", offline: bool = False,
               timeout: float = hub.HUB_TIMEOUT_S, token: str | bool | None = None) -> dict[str, Any]:
    """{"match": {...} | None, "checked": [per repo], "known_files": [...], "ollama": [...]}."""
    files = [f for f in record.get("files", []) if not f.get("error")]
    result: dict[str, Any] = {"match": None, "checked": [], "hashed": all(f.get("sha256") for f in files)}
    result["known_files"] = [{"local": f["path"], **k} for f in files if (k := known_file(f, kb))]
    result["ollama"] = [_ollama_digest(f) for f in files if f.get("ollama_digest") and f.get("sha256")]
    if offline:
        result["skipped"] = "HF_HUB_OFFLINE is set: the hub was not asked"
    else:
        for repo in candidate_repos(record, kb):
            checked = _check_repo(repo, revision, files, timeout, token)
            result["checked"].append(checked)
            if checked.get("all_same"):
                result["match"] = {"repo": repo, "revision": revision, "sha": checked.get("sha"), "by": checked["by"]}
                break
    if result["match"] is None and files and len(result["known_files"]) == len(files):
        k = result["known_files"][0]
        result["match"] = {"repo": k["repo"], "revision": None, "sha": None, "by": "published size" + (" and sha256" if result["hashed"] else "")}
    return result


def _check_repo(repo: str, revision: str, files: list[dict[str, Any]], timeout: float, token: Any) -> dict[str, Any]:
    probe = hub.probe_repo(repo, revision, token=token, timeout=timeout)
    checked = {k: probe.get(k) for k in ("repo", "revision", "status", "sha", "http_status", "message")}
    if probe["status"] != "ok":
        return checked
    names = {Path(str(f["path"])).name for f in files}
    paths = [r["path"] for r in probe["files"] if Path(r["path"]).name in names]
    remote = probe["files"]
    if paths:
        pinned = hub.paths_info(repo, probe["sha"] or revision, paths, token=token, timeout=timeout)
        if pinned.get("status") == "ok":
            remote = pinned["files"]
    pairs = hub.match_files(files, remote)
    checked["pairs"] = pairs
    checked["all_same"] = bool(pairs) and all(p["verdict"] == "same" for p in pairs)
    checked["by"] = "sha256" if pairs and all(p.get("by") == "sha256" for p in pairs) else "size"
    return checked


def _ollama_digest(f: dict[str, Any]) -> dict[str, Any]:
    expected = str(f["ollama_digest"]).removeprefix("sha256:").lower()
    return {"local": f["path"], "digest": f["ollama_digest"], "same": expected == f["sha256"].lower()}
