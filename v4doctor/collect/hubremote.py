"""What the Hugging Face Hub says about the target repo, for `HubFacts.remote` (network).

Runs only when the target is a hub repo (not a local path), never when HF_HUB_OFFLINE is
set, and with a timeout on every call. Records the repo's status (ok / gated / not_found /
rate_limited / timeout ...), its resolved commit, and the files and bytes the engine will
fetch: safetensors engines take the weights plus config and tokenizer files; a GGUF repo's
download is one quant, taken from the knowledge base when it names one.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from v4doctor.facts import HubFacts, NotApplicable, TargetFacts, Unknown, known

# The files vLLM / SGLang fetch from a safetensors repo: weights, then config and tokenizer.
ENGINE_PATTERNS = ("*.safetensors", "*.json", "*.model", "*.tiktoken", "*.txt", "*.jinja", "*.py")


def collect(target: TargetFacts, hub: HubFacts, *, timeout: float | None = None) -> dict[str, Any] | Unknown:
    """Ask the hub about the target repo, or say why it was not asked."""
    if hub.offline:
        return Unknown("HF_HUB_OFFLINE is set: the hub was not contacted")
    from v4doctor.collect.hub import repo_id

    repo = repo_id(target)
    if not known(repo):
        return NotApplicable(f"no hub repo to check: {repo.reason}")
    import time

    from v4doctor.weights import hub as client

    started = time.monotonic()
    why = client.unreachable(client.endpoint())
    if why is not None:  # offline: say so at once, without loading the hub client
        return {"repo": repo, "revision": "main", "endpoint": client.endpoint(), "status": "network_error", "offline": True,
                "http_status": None, "message": why, "elapsed_s": round(time.monotonic() - started, 2)}
    record = client.probe_repo(repo, "main", timeout=timeout or client.HUB_TIMEOUT_S)
    if record["status"] == "ok":
        record.update(download(record["files"], repo, target.engine))
    record["elapsed_s"] = round(time.monotonic() - started, 2)
    return record


def download(files: list[dict[str, Any]], repo: str, engine: str = "vllm") -> dict[str, Any]:
    """The files and bytes an engine will fetch from this repo."""
    from v4doctor.knowledge.kb import load

    model = load().find_model(repo) or {}
    if model.get("format") == "gguf" or any(f["path"].endswith(".gguf") for f in files):
        return {"download_bytes": model.get("disk_bytes"), "download_note": "one GGUF quant (the knowledge base's usual pick)"}
    if engine in ("llamacpp", "ollama"):
        return {"download_bytes": None, "download_note": f"{engine} loads a GGUF, not this safetensors repo"}
    wanted = [f for f in files if any(fnmatch.fnmatch(f["path"].rsplit("/", 1)[-1], p) for p in ENGINE_PATTERNS)]
    return {"download_files": len(wanted), "download_bytes": sum(f.get("size") or 0 for f in wanted), "download_note": "weights, config and tokenizer files"}
