"""Docker facts through the `docker` SDK: find and connect to the engine, then read it (docker_containers.py).

Collectors never judge: `read_engine` records what the Docker Engine API says (`/info`,
`/containers/json`, `/containers/{id}/json`, `/images/{id}/json`, `/containers/{id}/logs`)
as plain JSON-ready data. A value it cannot read is `{"unknown": reason}` (the same shape
`facts_to_json` gives an Unknown), so the dict survives a snapshot round trip unchanged.
The SDK is imported lazily: `v4doctor --help` never pays for it.
"""

from __future__ import annotations

import os
from typing import Any

from v4doctor.collect.docker_containers import read_engine, scrub_argv, unknown
from v4doctor.knowledge.images import CACHE_DIRS, engine_of, image_cuda, split_image, tag_cuda, tag_version
from v4doctor.facts import Unknown

# The container reading lives in docker_containers.py, the image-tag parsing in knowledge/images.py;
# their public names stay importable from here.
__all__ = ["CACHE_DIRS", "collect", "engine_of", "image_cuda", "local_host", "read_engine", "scrub_argv", "split_image",
           "tag_cuda", "tag_version", "unknown"]

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_S = 5.0



def collect(base_url: str | None = None, timeout: float = TIMEOUT_S) -> dict[str, Any] | Unknown:
    """Read the Docker engine at `base_url`, else $DOCKER_HOST (with its TLS settings), else the local one."""
    if base_url is None and not _may_have_engine(os.environ):
        return _missing_socket(f"unix://{DEFAULT_SOCKET}", dict(os.environ))  # without paying for the SDK import
    try:
        import docker
    except ImportError:
        return Unknown("the docker Python package is not installed (pip install docker)")
    env = dict(os.environ)
    env["DOCKER_HOST"] = base_url or env.get("DOCKER_HOST") or local_host(env)
    url = env["DOCKER_HOST"]
    missing = _missing_socket(url, env)
    if missing is not None:
        return missing
    try:
        client = docker.DockerClient.from_env(environment=env, version="auto", timeout=timeout)
    except Exception as exc:  # DockerException wraps connection and permission errors
        return _unreachable(url, exc)
    try:
        return read_engine(client.api, url)
    except Exception as exc:
        return _unreachable(url, exc)
    finally:
        client.close()


def _may_have_engine(env) -> bool:
    """Anything that could point at an engine: DOCKER_HOST, a docker config (contexts), or a local socket."""
    config = os.path.join(env.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker"), "config.json")
    sockets = (DEFAULT_SOCKET, _rootless_socket(dict(env)))
    return bool(env.get("DOCKER_HOST")) or os.path.exists(config) or any(os.path.exists(p) for p in sockets)


def local_host(env: dict[str, str]) -> str:
    """The current `docker context` when it is not the default, else the root socket, else the rootless one."""
    try:
        from docker.context import ContextAPI

        ctx = ContextAPI.get_current_context()
        if ctx is not None and ctx.name != "default" and ctx.Host:
            return ctx.Host
    except Exception:  # a broken ~/.docker/config.json must not stop the run
        pass
    rootless = _rootless_socket(env)
    if not os.path.exists(DEFAULT_SOCKET) and os.path.exists(rootless):
        return f"unix://{rootless}"
    return f"unix://{DEFAULT_SOCKET}"


def _rootless_socket(env: dict[str, str]) -> str:
    return os.path.join(env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}", "docker.sock")


def _socket_path(url: str) -> str | None:
    if url.startswith("unix://"):
        return url[len("unix://"):]
    return url if url.startswith("/") else None


def _missing_socket(url: str, env: dict[str, str]) -> Unknown | None:
    path = _socket_path(url)
    if path is None:
        return None
    try:
        os.stat(path)
        return None
    except FileNotFoundError:
        pass
    except OSError:  # there, but not ours to read: the connect says why (permission denied)
        return None
    if os.environ.get("DOCKER_HOST") or path != DEFAULT_SOCKET:
        return Unknown(f"no docker socket at {path}; is Docker running there?")
    return Unknown(f"no docker socket at {path} (nor a rootless one at {_rootless_socket(env)}); is Docker installed and running?")


def _unreachable(url: str, exc: BaseException) -> Unknown:
    """Say why the engine did not answer; permission denied names the docker-group fix."""
    text = f"{type(exc).__name__}: {exc}"
    path = _socket_path(url) or url
    if "Permission denied" in text or "PermissionError" in text:
        return Unknown(
            f"permission denied on {path}: your user may not use Docker; "
            "add it to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo"
        )
    if "Connection refused" in text or "ConnectionRefusedError" in text:
        return Unknown(f"nothing answers on {path} (connection refused); start Docker: sudo systemctl start docker")
    return Unknown(f"docker engine at {url} did not answer: {text}")
