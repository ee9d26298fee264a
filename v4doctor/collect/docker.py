"""Docker facts through the `docker` SDK: the engine, its GPU runtime, and V4 engine containers.

Collectors never judge: this module records what the Docker Engine API says (`/info`,
`/containers/json`, `/containers/{id}/json`, `/images/{id}/json`, `/containers/{id}/logs`)
as plain JSON-ready data. A value it cannot read is `{"unknown": reason}` (the same shape
`facts_to_json` gives an Unknown), so the dict survives a snapshot round trip unchanged.
The SDK is imported lazily: `v4doctor --help` never pays for it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from v4doctor.collect.docker_images import (  # noqa: F401
    ENGINE_IMAGES,
    engine_of,
    image_cuda,
    split_image,
    tag_cuda,
    tag_version,
)
from v4doctor.facts import Unknown

DEFAULT_SOCKET = "/var/run/docker.sock"
LOG_TAIL = 80
TIMEOUT_S = 5.0

# Where each engine keeps downloaded weights inside its container.
CACHE_DIRS = {
    "vllm": ("/root/.cache/huggingface",),
    "sglang": ("/root/.cache/huggingface",),
    "llamacpp": ("/root/.cache/llama.cpp",),
    "ollama": ("/root/.ollama",),
}
_ENV_KEEP = re.compile(r"^(HF_|HUGGING_FACE_|VLLM_|SGLANG_|NCCL_|CUDA_|NVIDIA_|OLLAMA_|TORCH_|LLAMA_)")
_SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD", re.IGNORECASE)
_SECRET_FLAG = re.compile(r"^--?(?:api[-_]key|hf[-_]token|token|password)$", re.IGNORECASE)


def unknown(reason: str) -> dict[str, str]:
    """An unread value inside the docker facts dict, in its JSON form."""
    return {"unknown": reason}


def collect(base_url: str | None = None, timeout: float = TIMEOUT_S) -> dict[str, Any] | Unknown:
    """Read the Docker engine at `base_url`, else $DOCKER_HOST (with its TLS settings), else the local one."""
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


def read_engine(api: Any, url: str) -> dict[str, Any]:
    """Engine facts from a docker `APIClient`: version, GPU runtime, engine containers."""
    version, info = api.version(), api.info()
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    return {
        "host": url,
        "server_version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "runtimes": runtimes,
        "default_runtime": info.get("DefaultRuntime"),
        "nvidia_runtime": "nvidia" in runtimes,
        "cdi_spec_dirs": list(info.get("CDISpecDirs") or []),
        "cdi_devices": [d.get("ID") for d in info.get("DiscoveredDevices") or [] if d.get("Source") == "cdi"],
        "containers": [_soft_container(api, s) for s in api.containers(all=True) if engine_of(s.get("Image", ""))],
    }


def _soft_container(api: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """One container; one that vanished or answers oddly is kept as `unreadable`, the others still read."""
    try:
        return _container(api, summary)
    except Exception as exc:
        name = (summary.get("Names") or ["/?"])[0].lstrip("/")
        return {"name": name, "image": summary.get("Image", ""), "engine": engine_of(summary.get("Image", "")),
                "unreadable": f"{type(exc).__name__}: {exc}"}


# --------------------------------------------------------------------------- images
def _env_dict(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        out[name] = value
    return out


def _read_image(api: Any, image_id: str) -> dict[str, Any]:
    try:
        data = api.inspect_image(image_id)
    except Exception as exc:  # an image removed since the container was created
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"env": _env_dict((data.get("Config") or {}).get("Env")), "repo_tags": data.get("RepoTags") or []}


# --------------------------------------------------------------------------- containers
def _container(api: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """One engine container, from `/containers/{id}/json` plus its image and log tail."""
    c = api.inspect_container(summary["Id"])
    cfg, host = c.get("Config") or {}, c.get("HostConfig") or {}
    ref = cfg.get("Image") or summary.get("Image", "")
    engine = engine_of(ref) or engine_of(summary.get("Image", "")) or "unknown"
    tag = split_image(ref)[1]
    argv = scrub_argv([*(cfg.get("Entrypoint") or []), *(cfg.get("Cmd") or [])])
    logs = _logs(api, c["Id"])
    return {
        "id": c.get("Id", "")[:12],
        "name": c.get("Name", "").lstrip("/"),
        "image": ref,
        "engine": engine,
        "tag": tag,
        **_cuda_facts(_read_image(api, c.get("Image", "")), tag),
        "engine_version": tag_version(engine, tag) or unknown(f"the tag {tag!r} names no version"),
        "argv": argv,
        "env": _kept_env(_env_dict(cfg.get("Env"))),
        "runtime": host.get("Runtime"),
        "device_requests": _device_requests(host.get("DeviceRequests")),
        "shm_size_bytes": host.get("ShmSize"),
        "ipc_mode": host.get("IpcMode"),
        "mounts": _mounts(c.get("Mounts")),
        "state": _state(c.get("State") or {}),
        "restart_count": c.get("RestartCount", 0),
        "restart_policy": (host.get("RestartPolicy") or {}).get("Name"),
        "compose_service": (cfg.get("Labels") or {}).get("com.docker.compose.service"),
        "logs_tail": logs,
        "launch": _launch(argv),
        "diagnosis": _diagnosis(logs),
    }


def _cuda_facts(image: dict[str, Any], tag: str) -> dict[str, Any]:
    env = image.get("env") or {}
    from_env = image_cuda(env)
    if from_env:
        source = "NVIDIA_REQUIRE_CUDA" if "NVIDIA_REQUIRE_CUDA" in env else "CUDA_VERSION"
        return {"cuda": from_env, "cuda_source": f"image env {source}"}
    if tag_cuda(tag):
        return {"cuda": tag_cuda(tag), "cuda_source": "image tag"}
    why = image.get("error") or "the image env has no CUDA_VERSION and the tag no -cuXYZ"
    return {"cuda": unknown(why), "cuda_source": None}


def scrub_argv(argv: list[str]) -> list[str]:
    """`--api-key sk-…` / `--hf-token=hf_…` -> the value replaced, so no secret reaches the facts."""
    out, hide = [], False
    for tok in argv:
        flag, eq, _ = tok.partition("=")
        if hide:
            out.append("[REDACTED]")
        elif _SECRET_FLAG.match(flag) and eq:
            out.append(f"{flag}=[REDACTED]")
        else:
            out.append(tok)
        hide = not hide and not eq and bool(_SECRET_FLAG.match(tok))
    return out


def _kept_env(env: dict[str, str]) -> dict[str, str]:
    """The env names that matter to an engine; secret values never leave the collector."""
    return {k: ("[set]" if _SECRET_NAME.search(k) else v) for k, v in sorted(env.items()) if _ENV_KEEP.match(k)}


def _device_requests(requests: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """`--gpus all` -> [{"driver": "nvidia"?, "count": -1, "device_ids": [], "capabilities": [["gpu"]]}]."""
    return [
        {
            "driver": r.get("Driver") or "",
            "count": r.get("Count") or 0,
            "device_ids": list(r.get("DeviceIDs") or []),
            "capabilities": [list(c) for c in r.get("Capabilities") or []],
        }
        for r in requests or []
    ]


def _mounts(mounts: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    keys = {"Type": "type", "Name": "name", "Source": "source", "Destination": "destination"}
    return [{new: m.get(old) for old, new in keys.items() if m.get(old) is not None} for m in mounts or []]


def _state(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": s.get("Status"),
        "running": bool(s.get("Running")),
        "restarting": bool(s.get("Restarting")),
        "exit_code": s.get("ExitCode"),
        "oom_killed": bool(s.get("OOMKilled")),
        "error": s.get("Error") or "",
        "started_at": s.get("StartedAt"),
    }


def _logs(api: Any, cid: str) -> list[str] | dict[str, str]:
    try:
        raw = api.logs(cid, stdout=True, stderr=True, tail=LOG_TAIL)
    except Exception as exc:
        return unknown(f"could not read the container's logs: {type(exc).__name__}: {exc}")
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return text.splitlines()[-LOG_TAIL:]


def _launch(argv: list[str]) -> dict[str, Any]:
    """The container's command through the launch-spec parser, when that parser is installed."""
    try:
        from v4doctor.launch import parse_command
    except ImportError:
        return unknown("the launch-spec parser is not available in this build")
    try:
        return parse_command(list(argv)).to_dict()
    except Exception as exc:  # UsageError for a command it does not understand
        return unknown(f"could not parse the container's command: {exc}")


def _diagnosis(logs: list[str] | dict[str, str]) -> dict[str, Any]:
    """The log tail through `v4doctor.logs.diagnose_text`, when the diagnoser is installed."""
    if isinstance(logs, dict) or not logs:
        return unknown("no log lines to diagnose")
    try:
        from v4doctor.logs import diagnose_text
    except ImportError:
        return unknown("the log diagnoser is not available in this build")
    try:
        return diagnose_text("\n".join(logs)).to_dict()
    except Exception as exc:
        return unknown(f"log diagnosis failed: {type(exc).__name__}: {exc}")
