"""Hit and no-hit cases for the Hugging Face checks V4D420-V4D425 (collected by tests/check_cases.py).

`remote` records have the shape v4doctor/weights/hub.py builds from huggingface_hub's answers
(tests/test_hub_remote.py produces them from a live local server); here they are written out.
"""

from __future__ import annotations

import dataclasses

from check_cases import host

from v4doctor.facts import HubFacts, Unknown

FLASH = "deepseek-ai/DeepSeek-V4-Flash"
EP = "https://huggingface.co"
OK = {"repo": FLASH, "revision": "main", "endpoint": EP, "status": "ok", "sha": "6976c7ff0000", "files": [],
      "download_bytes": 159_617_149_040, "download_note": "weights, config and tokenizer files"}


def _failed(status, code, message="", **extra):
    return {"repo": FLASH, "revision": "main", "endpoint": EP, "timeout_s": 10.0, "status": status, "http_status": code, "message": message, **extra}


def hubbed(remote=None, *, token=False, xet=True, transfer=False, incomplete=0, cached=0, offline=False, free=None):
    """h200-x1 (68.7 GB free on /) with Hugging Face settings and the hub's answer."""
    def build():
        facts = host("h200-x1")
        facts.hub = HubFacts(token_configured=token, token_source="HF_TOKEN" if token else Unknown("no token"), cache_dir="/root/.cache/huggingface/hub",
                             offline=offline, hf_xet=xet, hf_transfer=transfer, cached_files=[], cached_bytes=cached, incomplete_bytes=incomplete,
                             endpoint=EP, remote=remote if remote is not None else Unknown("HF_HUB_OFFLINE is set: the hub was not contacted"))
        if free is not None:
            facts.system.disks = [dataclasses.replace(d, free_bytes=free) for d in facts.system.disks]
        return facts

    return build


CASES = [
    # V4D420 repo / revision
    ("V4D420", hubbed(_failed("not_found", 404, "Repository Not Found")), "error", "repo id does not exist"),
    ("V4D420", hubbed(_failed("revision_not_found", 404, "Revision Not Found")), "error", "revision does not exist"),
    ("V4D420", hubbed(OK), "info", "resolves to a commit"),
    ("V4D420", hubbed(_failed("gated", 401)), "ok", "gated is V4D421's finding, not a missing repo"),
    ("V4D420", hubbed(), "skipped", "offline: the hub was not asked"),
    # V4D421 gated / private
    ("V4D421", hubbed(_failed("gated", 401, "Cannot access gated repo")), "error", "gated, no token"),
    ("V4D421", hubbed(_failed("gated", 403, "Cannot access gated repo"), token=True), "error", "token set but terms not accepted"),
    ("V4D421", hubbed(_failed("unauthorized", 401, "Repository Not Found")), "error", "401: private, gated or missing"),
    ("V4D421", hubbed(OK), "ok", "readable"),
    # V4D422 network
    ("V4D422", hubbed(_failed("rate_limited", 429, "You have exceeded our hourly quotas")), "warning", "429"),
    ("V4D422", hubbed(_failed("timeout", None, "ReadTimeout")), "warning", "timeout"),
    ("V4D422", hubbed(_failed("server_error", 500, "Internal Error")), "warning", "500"),
    ("V4D422", hubbed(OK), "ok", "the hub answered"),
    ("V4D422", hubbed(), "skipped", "offline is skipped, not an error"),
    # V4D423 disk for the download
    ("V4D423", hubbed(OK), "error", "160 GB to fetch, 68.7 GB free"),
    ("V4D423", hubbed(OK, cached=100 * 10**9), "info", "100 GB already cached: 60 GB left fits in 68.7 GB"),
    ("V4D423", hubbed(OK, free=500 * 10**9), "info", "500 GB free: the numbers, no problem"),
    ("V4D423", hubbed(_failed("gated", 401)), "ok", "no file list from a gated repo: nothing to compare (V4D421 reports it)"),
    ("V4D423", hubbed({**OK, "download_bytes": None, "download_note": "llamacpp loads a GGUF, not this safetensors repo"}), "ok",
     "llama.cpp will not download this safetensors repo"),
    # V4D424 incomplete downloads
    ("V4D424", hubbed(OK, incomplete=12 * 10**9), "warning", "12 GB of .incomplete blobs"),
    ("V4D424", hubbed(OK), "ok", "nothing half-downloaded"),
    # V4D425 accelerators
    ("V4D425", hubbed(OK, xet=False, transfer=False), "warning", "neither hf_xet nor hf_transfer"),
    ("V4D425", hubbed(OK, xet=True), "ok", "hf_xet installed"),
    ("V4D425", hubbed(OK, xet=False, transfer=True), "ok", "hf_transfer installed"),
    ("V4D425", hubbed(xet=False, offline=True), "ok", "offline: nothing will be downloaded"),
]
