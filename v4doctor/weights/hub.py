"""The Hugging Face Hub through huggingface_hub, with a timeout on every call.

huggingface_hub's shared HTTP client has no timeout (`timeout=None`), and `get_paths_info`
takes none, so every call here runs inside `bounded_session`, which installs a client
with one. The endpoint is passed to `HfApi(endpoint=...)` from HF_ENDPOINT at call time:
huggingface_hub reads HF_ENDPOINT once, when it is imported. Calls that fail become a
`status` ("gated", "rate_limited", "timeout", ...) in the returned record, never an exception.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

HUB_TIMEOUT_S = 10.0
DEFAULT_ENDPOINT = "https://huggingface.co"


def endpoint(env: Mapping[str, str] | None = None) -> str:
    """The hub's base URL: HF_ENDPOINT in `env` (default: os.environ), else huggingface.co; no trailing slash."""
    return ((os.environ if env is None else env).get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _httpx():
    """The HTTP library the installed huggingface_hub runs on (httpx2 from 2.0 on, httpx in 1.x)."""
    from huggingface_hub.utils import _http

    return getattr(_http, "httpx2", None) or _http.httpx


@contextmanager
def bounded_session(timeout: float) -> Iterator[None]:
    """Run huggingface_hub calls with an HTTP client that gives up after `timeout` seconds."""
    httpx = _httpx()
    from huggingface_hub import set_client_factory
    from huggingface_hub.utils import _http

    previous = getattr(_http, "_GLOBAL_CLIENT_FACTORY", _http.default_client_factory)

    def factory():
        client = _http.default_client_factory()
        client.timeout = httpx.Timeout(timeout)
        return client

    set_client_factory(factory)
    try:
        yield
    finally:
        set_client_factory(previous)


PRECHECK_TIMEOUT_S = 1.5  # one DNS attempt and one TCP connect; an offline host answers in this time, not the full timeout
_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy")


def unreachable(url: str | None = None, timeout: float = PRECHECK_TIMEOUT_S) -> str | None:
    """Why the hub cannot be reached at all (no DNS answer, no route, refused), or None when a TCP connection opens.

    One resolution and one connect, each bounded (getaddrinfo has no timeout of its own, so it runs in a
    daemon thread). Behind a proxy the proxy resolves the hub: the check is skipped (None)."""
    import socket
    import threading
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in _PROXY_VARS):
        return None
    parts = urlsplit(url or endpoint())
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    if not host:
        return f"HF_ENDPOINT {url!r} has no host"
    answer: dict[str, Any] = {}

    def resolve() -> None:
        try:
            answer["addrs"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            answer["error"] = exc

    worker = threading.Thread(target=resolve, name="v4doctor-hub-dns", daemon=True)
    worker.start()
    worker.join(timeout)
    if "error" in answer:
        return f"cannot resolve {host}: {answer['error']}"
    if "addrs" not in answer:
        return f"no DNS answer for {host} within {timeout:g} s"
    family, kind, proto, _, addr = answer["addrs"][0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.connect(addr)
    except OSError as exc:
        return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
    return None


def _api(token: str | bool | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint(), token=token)


def probe_repo(repo: str, revision: str = "main", *, token: str | bool | None = None, timeout: float = HUB_TIMEOUT_S) -> dict[str, Any]:
    """Does the repo exist, does the revision resolve, may we read it, and what files does it hold."""
    record: dict[str, Any] = {"repo": repo, "revision": revision, "endpoint": endpoint(), "timeout_s": timeout}
    try:
        with bounded_session(timeout):
            info = _api(token).model_info(repo, revision=revision, files_metadata=True, timeout=timeout)
    except Exception as exc:  # every failure becomes a status the checks can judge
        record.update(failure(exc))
        return record
    record.update(status="ok", sha=info.sha, gated=info.gated or False, private=bool(info.private), files=_siblings(info))
    return record


def _siblings(info: Any) -> list[dict[str, Any]]:
    return [
        {"path": s.rfilename, "size": s.size, "sha256": s.lfs.sha256 if s.lfs else None}
        for s in info.siblings or []
    ]


def paths_info(repo: str, revision: str, paths: list[str], *, token: str | bool | None = None, timeout: float = HUB_TIMEOUT_S) -> dict[str, Any]:
    """Size and LFS sha256 of the given paths at one revision (`get_paths_info`)."""
    try:
        with bounded_session(timeout):
            found = _api(token).get_paths_info(repo, paths, revision=revision)
    except Exception as exc:
        return failure(exc)
    files = [{"path": f.path, "size": f.size, "sha256": f.lfs.sha256 if getattr(f, "lfs", None) else None} for f in found if hasattr(f, "size")]
    return {"status": "ok", "files": files}


def failure(exc: BaseException) -> dict[str, Any]:
    """Name what went wrong: gated / not_found / revision_not_found / rate_limited / server_error / timeout / network_error."""
    httpx = _httpx()
    from huggingface_hub import errors

    code = getattr(getattr(exc, "response", None), "status_code", None)
    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, errors.GatedRepoError):
        status = "gated"
    elif isinstance(exc, errors.RevisionNotFoundError):
        status = "revision_not_found"
    elif isinstance(exc, errors.RepositoryNotFoundError):
        status = "not_found" if code == 404 else "unauthorized"
    elif isinstance(exc, httpx.TimeoutException):
        status = "timeout"
    elif code == 429:
        status = "rate_limited"
    elif code in (401, 403):
        status = "unauthorized"
    elif code is not None and code >= 500:
        status = "server_error"
    else:
        status = "network_error"
    return {"status": status, "http_status": code, "message": message}


def match_files(local: list[dict[str, Any]], remote: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair each local file with the repo file of the same name: `same` / `differs` (size or sha256) / `absent`."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for r in remote:
        by_name.setdefault(os.path.basename(r["path"]), []).append(r)
    out = []
    for f in local:
        candidates = by_name.get(os.path.basename(str(f["path"])), [])
        out.append(_pair(f, candidates))
    return out


def _pair(local: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {"local": str(local["path"]), "size": local.get("size"), "sha256": local.get("sha256")}
    if not candidates:
        return {**result, "verdict": "absent"}
    for c in candidates:
        if c.get("size") == local.get("size") and _sha_ok(local.get("sha256"), c.get("sha256")):
            hashed = bool(local.get("sha256") and c.get("sha256"))
            return {**result, "verdict": "same", "remote": c["path"], "by": "sha256" if hashed else "size"}
    c = candidates[0]
    return {**result, "verdict": "differs", "remote": c["path"], "remote_size": c.get("size"), "remote_sha256": c.get("sha256")}


def _sha_ok(local: str | None, remote: str | None) -> bool:
    return not (local and remote) or local.lower() == remote.lower()
