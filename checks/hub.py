"""Checks: the Hugging Face Hub (repo, access, network, disk for the download, cache, speed).

`hub.remote` is what v4doctor/collect/hubremote.py heard from the hub (or Unknown: offline,
local target); the rest of `hub` is the local cache and settings (v4doctor/collect/hub.py).
"""

from __future__ import annotations

import functools
import inspect

from v4doctor.judge.authoring import NotApplicable, check, error, info, known, skipped, warning

GB = 10**9
SIZES = "DeepSeek-V4-Flash is ~160 GB (148.66 GiB, 46 shards), not 570 GB; V4-Pro ~865 GB (805.35 GiB), not 3.2 TB"
SIZE_SOURCES = ["shared/research/v4-facts.md §2.1", "https://recipes.vllm.ai/deepseek-ai/DeepSeek-V4-Pro"]
NETWORK = ("rate_limited", "timeout", "server_error", "network_error")


def _remote_check(check_id, *, title, **options):
    """`@check` for a check that judges the hub's answer: the function gets it as `remote` before its facts
    (`judge(remote, hub, ...)`); a local checkpoint gives no finding, an unasked hub a `skipped` with the reason."""

    def wrap(judge):
        @functools.wraps(judge)
        def run(hub, **facts):
            if isinstance(hub.remote, NotApplicable):
                return hub.remote  # a local checkpoint: nothing to ask the hub
            if not known(hub.remote):
                return skipped(title, f"hub not asked, because {hub.remote.reason}")
            return judge(hub.remote, hub, **facts)

        run.__signature__ = inspect.Signature(list(inspect.signature(judge).parameters.values())[1:])  # the facts it needs
        return check(check_id, title=title, category="hub", **options)(run)

    return wrap


@_remote_check("V4D420", title="model repo exists and the revision resolves",
               troubleshooting="hf-gated-or-auth", sources=["https://huggingface.co/docs/huggingface_hub/package_reference/hf_api"])
def hub_repo_exists(remote, hub):
    """A misspelt repo id or a revision that is not on the hub fails every engine at download time."""
    if remote["status"] == "not_found":
        return error(f"{remote['repo']} does not exist on {remote['endpoint']}", remote.get("message", ""), fix="Check the repo id (e.g. deepseek-ai/DeepSeek-V4-Flash); `v4doctor explain` lists the known ones.")
    if remote["status"] == "revision_not_found":
        return error(f"revision {remote['revision']!r} of {remote['repo']} does not exist", remote.get("message", ""), fix="Use `main` or a commit/tag listed on the repo page.")
    if remote["status"] == "ok":
        return info(f"{remote['repo']}@{remote['revision']} resolves to {str(remote.get('sha'))[:12]}")
    return None


@_remote_check("V4D421", title="the token can read the repo (gated / private)",
               troubleshooting="hf-gated-or-auth", sources=["https://huggingface.co/docs/huggingface_hub/authentication"])
def hub_access(remote, hub):
    """401/403 from the hub: a gated repo whose terms were not accepted, a private repo, or no token."""
    if remote["status"] not in ("gated", "unauthorized"):
        return None
    token = f"a token is configured ({hub.token_source})" if hub.token_configured else "no token is configured"
    gated = remote["status"] == "gated"
    fix = ("Accept the terms on the model page with the account of your token, then retry." if gated and hub.token_configured
           else "Run `hf auth login` (or export HF_TOKEN) with an account that can read the repo" + (", and accept its terms on the model page." if gated else "."))
    return error(f"{remote['repo']} refused access (HTTP {remote.get('http_status')}): {'gated' if gated else 'private, gated or missing'}; {token}",
                 remote.get("message", ""), fix=fix, commands=["hf auth login"])


@_remote_check("V4D422", title="the hub answers (no rate limit, timeout or server error)",
               troubleshooting="hf-rate-limit-or-network", sources=["https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables"])
def hub_network(remote, hub):
    """429, 5xx and timeouts are transient: warn with retry advice instead of failing the plan."""
    status = remote["status"]
    if status not in NETWORK:
        return None
    advice = {
        "rate_limited": "Wait a few minutes; log in (`hf auth login`) for higher rate limits.",
        "timeout": f"Retry; check proxies (HTTPS_PROXY) and HF_ENDPOINT ({remote['endpoint']}); v4doctor waited {remote.get('elapsed_s') or remote.get('timeout_s')} s.",
        "server_error": "The hub had an error; retry in a few minutes (status.huggingface.co).",
        "network_error": f"Check the network, DNS and proxy settings for {remote['endpoint']}; set HF_HUB_OFFLINE=1 if the weights are already cached.",
    }[status]
    what = "offline (the hub cannot be reached)" if remote.get("offline") else status.replace("_", " ")
    return warning(f"the hub did not answer for {remote['repo']}: {what}" + (f" (HTTP {remote['http_status']})" if remote.get("http_status") else ""),
                   remote.get("message", ""), fix=advice)


def _free_at(system, path):
    disks = [d for d in system.disks if known(d.free_bytes) and str(path).startswith(d.path)] if known(system) else []
    return max(disks, key=lambda d: len(d.path)).free_bytes if disks else None


@_remote_check("V4D423", title="free disk at HF_HOME holds the download", troubleshooting="disk-full", sources=SIZE_SOURCES)
def hub_disk_for_download(remote, hub, system):
    """The bytes still to download (repo files the engine fetches, minus what is cached) vs free space at the cache."""
    need = remote.get("download_bytes")
    if remote["status"] != "ok" or not need:
        return None
    cached = hub.cached_bytes if known(hub.cached_bytes) else 0
    left = max(need - cached, 0)
    free = _free_at(system, hub.cache_dir)
    if free is None:
        return skipped("free disk at HF_HOME holds the download", f"free space at {hub.cache_dir} was not read")
    detail = f"{remote['repo']}: {need / GB:.1f} GB to fetch ({remote.get('download_note')}), {cached / GB:.1f} GB cached, {free / GB:.1f} GB free at {hub.cache_dir}"
    if left > free:
        return error(f"not enough disk for the download: {left / GB:.1f} GB needed, {free / GB:.1f} GB free", detail + ".",
                     fix="Free space, or point HF_HOME / HF_HUB_CACHE at a larger disk before downloading.", evidence=[detail])
    return info(f"download fits: {left / GB:.1f} GB still to fetch, {free / GB:.1f} GB free", detail + ".")


@check("V4D424", title="no half-finished downloads in the cache", category="hub",
       troubleshooting="corrupt-or-incomplete-weights", sources=["https://huggingface.co/docs/huggingface_hub/guides/manage-cache"])
def hub_incomplete_downloads(hub):
    """`.incomplete` blobs hold disk space and mean an interrupted download; `hf download` resumes them."""
    if not known(hub.incomplete_bytes) or hub.incomplete_bytes == 0:
        return None
    return warning(f"{hub.incomplete_bytes / GB:.1f} GB in unfinished downloads (.incomplete blobs) under {hub.cache_dir}",
                   "An interrupted download; the engine will find the snapshot incomplete.",
                   fix="Resume with `hf download <repo>`; or reclaim the space with `hf cache delete`.")


@check("V4D425", title="hf_xet or hf_transfer is installed for fast downloads", category="hub",
       troubleshooting="guide-slow-hf-download", sources=SIZE_SOURCES + ["https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables"])
def hub_download_speed(hub):
    """Hundreds of GB through plain HTTP is slow; the guide's sizes are wrong too (Flash ~160 GB, Pro ~865 GB)."""
    if hub.offline or hub.hf_xet is True or hub.hf_transfer is True:
        return None
    if not known(hub.hf_xet) and not known(hub.hf_transfer):
        return None
    return warning("neither hf_xet nor hf_transfer is installed: downloads will be slow",
                   f"{SIZES}. The guide's 570 GB / 3.2 TB figures are a BF16 dequant, not the official repos.",
                   fix="pip install -U hf_xet (or hf_transfer and export HF_HUB_ENABLE_HF_TRANSFER=1)", commands=["pip install -U hf_xet"])
