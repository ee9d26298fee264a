"""One Docker engine's facts as plain JSON-ready data: its GPU runtime and every V4 engine container.

`read_engine(api, url)` reads a docker `APIClient` (`/info`, `/containers/json`,
`/containers/{id}/json`, `/images/{id}/json`, `/containers/{id}/logs`); `v4doctor.collect.docker`
connects and calls it. Secrets in commands and env are scrubbed here, before anything is kept.
"""

from __future__ import annotations

import re
from typing import Any

from v4doctor.knowledge.images import engine_of, image_cuda, split_image, tag_cuda, tag_version

LOG_TAIL = 80
_ENV_KEEP = re.compile(r"^(HF_|HUGGING_FACE_|VLLM_|SGLANG_|NCCL_|CUDA_|NVIDIA_|OLLAMA_|TORCH_|LLAMA_)")
_SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD", re.IGNORECASE)
_SECRET_FLAG = re.compile(r"^--?(?:api[-_]key|hf[-_]token|token|password)$", re.IGNORECASE)


def unknown(reason: str) -> dict[str, str]:
    """An unread value inside the docker facts dict, in its JSON form."""
    return {"unknown": reason}


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
