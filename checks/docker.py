"""Checks: running deployments in Docker (V4D501–V4D507; 504, 506 and 507 in docker_images.py).

Each check reads `docker` (the dict `v4doctor.collect.docker` records: the engine's GPU
runtime and every vLLM/SGLang/llama.cpp/Ollama container) and names the container in every
finding, so one host with three deploys gets three separate answers.
"""

from __future__ import annotations

import functools
from typing import Any

from v4doctor.judge.authoring import Unknown, check, error, warning
from v4doctor_checks._host import GIB
from v4doctor_checks.system import SHM_FLOOR as SHM_ENOUGH  # V4D120's floor for the host's /dev/shm

DOCKER_DEFAULT_SHM = 64 * 1024**2  # moby/moby#29492: "The default size for /dev/shm is 64MB"
RESTART_LOOP = 3
_STOPPED = (130, 137, 143)  # SIGINT, SIGKILL, SIGTERM: `docker stop` / Ctrl-C, not a crash (unless OOM-killed)
HF_ENGINES = ("vllm", "sglang")
_TP = ("tensor-parallel-size", "tp-size", "tp", "tensor_parallel_size")
_DP = ("data-parallel-size", "dp-size", "dp", "data_parallel_size")
_PP = ("pipeline-parallel-size", "pp-size", "pp", "pipeline_parallel_size")
_DOCKER_SRC = "https://docs.docker.com/reference/api/engine/version/v1.57/schemas/DeviceRequest/"
_docker_check = functools.partial(check, category="docker")  # every check here and in docker_images.py


# --------------------------------------------------------------------------- reading the facts
def _unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, dict) and set(value) == {"unknown"})


def _containers(docker: dict[str, Any], engines: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The containers the collector could read (an `unreadable` one vanished between list and inspect)."""
    found = [c for c in docker.get("containers") or [] if isinstance(c, dict) and "unreadable" not in c]
    return [c for c in found if not engines or c.get("engine") in engines]


def _flags(c: dict[str, Any]) -> dict[str, Any]:
    launch = c.get("launch")
    return {} if _unknown(launch) or not isinstance(launch, dict) else launch.get("flags") or {}


def _size(flags: dict[str, Any], names: tuple[str, ...]) -> int:
    for name in names:
        try:
            return int(flags[name])
        except (KeyError, TypeError, ValueError):
            continue
    return 1


def _gpu_count(c: dict[str, Any], gpus: Any) -> int | None:
    """GPUs the container asked for: `count: 4`, `device_ids: [0,1]`, or all (-1) = the host's count."""
    total = 0
    for r in c.get("device_requests") or []:
        if r.get("device_ids") and not any(d.endswith("=all") for d in r["device_ids"]):
            total += len(r["device_ids"])
        elif r.get("count", 0) > 0:
            total += r["count"]
        else:
            return len(gpus) if isinstance(gpus, list) else None
    return total


def _workers(c: dict[str, Any], gpus: Any) -> int:
    """How many GPUs the engine will use: the larger of the GPUs given and TP x DP x PP."""
    f = _flags(c)
    parallel = _size(f, _TP) * _size(f, _DP) * _size(f, _PP)
    return max(parallel, _gpu_count(c, gpus) or 0)


def _wants_gpu(c: dict[str, Any]) -> bool:
    return bool(c.get("device_requests")) or c.get("runtime") == "nvidia"


def _launch_model(c: dict[str, Any]) -> Any:
    """The model the container's command names (`--model …` / positional), or None."""
    launch = c.get("launch")
    return launch.get("model") if isinstance(launch, dict) and not _unknown(launch) else None


def _model_of(c: dict[str, Any], kb: Any, fallback: Any) -> Any:
    """The knowledge-base record of what the container serves (its command), else the target model."""
    ref = _launch_model(c)
    record = kb.find_model(ref) if ref else None
    return record or fallback


def _gib(n: float) -> str:
    return f"{n / GIB:.0f} GiB" if n >= GIB else f"{n / 1024**2:.0f} MiB"


def _tail(c: dict[str, Any], n: int = 5) -> list[str]:
    logs = c.get("logs_tail")
    return [] if _unknown(logs) else [f"{c['name']} log: {line}" for line in (logs or [])[-n:]]


# --------------------------------------------------------------------------- V4D501
@_docker_check(
    "V4D501",
    title="Docker can give containers the GPUs",
    troubleshooting="docker-gpu-runtime",
    sources=["https://github.com/NVIDIA/nvidia-docker/issues/1034", "https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html"],
    accepts_unknown=["gpus"],
)
def docker_gpu_runtime(docker, gpus):
    """A GPU container Docker refused ("could not select device driver"), an engine container
    started without GPUs, or a GPU host whose Docker has neither the NVIDIA runtime nor CDI GPUs."""
    out = [_gpu_refused(c) for c in _containers(docker) if "could not select device driver" in c["state"].get("error", "")]
    out += [_no_gpus(c) for c in _containers(docker, HF_ENGINES) if not _wants_gpu(c)]
    toolkit = docker.get("nvidia_runtime") or any(d.startswith("nvidia.com/gpu") for d in docker.get("cdi_devices") or [])
    if not out and not toolkit and isinstance(gpus, list) and gpus:
        out.append(warning(
            f"Docker has no NVIDIA runtime and no CDI GPU devices on this {len(gpus)}-GPU host",
            "`docker info` lists the runtimes " + ", ".join(docker.get("runtimes") or []) + " and no `nvidia.com/gpu` CDI device, "
            "so the NVIDIA Container Toolkit looks absent or unconfigured; GPU containers may then fail with "
            "`could not select device driver \"\" with capabilities: [[gpu]]`.",
            fix="Check with `docker run --rm --gpus all ubuntu nvidia-smi`; if that fails, install the NVIDIA Container Toolkit and register it.",
            commands=["sudo nvidia-ctk runtime configure --runtime=docker", "sudo systemctl restart docker"],
            evidence=["docker.runtimes", "docker.cdi_devices"],
        ))
    return out


def _gpu_refused(c: dict[str, Any]) -> Any:
    return error(
        f"container {c['name']} was refused its GPUs: {c['state']['error']}",
        "Docker found no device driver for the GPU request, so the container never started: the NVIDIA Container "
        "Toolkit is missing or not registered with this Docker daemon.",
        fix="Install the NVIDIA Container Toolkit, register it with Docker, restart Docker, then start the container again.",
        commands=["sudo nvidia-ctk runtime configure --runtime=docker", "sudo systemctl restart docker"],
        evidence=[f"docker.containers[{c['name']}].state.error"],
    )


def _no_gpus(c: dict[str, Any]) -> Any:
    return error(
        f"container {c['name']} ({c['image']}) runs without GPUs",
        f"{c['engine']} images need NVIDIA GPUs, but the container has no GPU request and runs with the `{c.get('runtime')}` runtime.",
        fix="Give the container the GPUs: `docker run --gpus all …`, or in compose `deploy.resources.reservations.devices: "
        "[{driver: nvidia, count: all, capabilities: [gpu]}]`.",
        evidence=[f"docker.containers[{c['name']}].device_requests=[]"],
        sources=[_DOCKER_SRC],
    )


# --------------------------------------------------------------------------- V4D502
@_docker_check(
    "V4D502",
    title="Multi-GPU containers have enough shared memory",
    troubleshooting="shm-too-small",
    sources=["https://github.com/moby/moby/issues/29492", "https://github.com/pytorch/tutorials/pull/2475", "https://docs.vllm.ai/en/latest/deployment/docker.html"],
    accepts_unknown=["gpus"],
)
def docker_shm(docker, gpus):
    """A vLLM/SGLang container using several GPUs without `ipc: host` and with /dev/shm under 1 GiB
    (Docker's default is 64 MiB): NCCL and the engine's workers share tensors through /dev/shm."""
    out = []
    for c in _containers(docker, HF_ENGINES):
        n, shm = _workers(c, gpus), c.get("shm_size_bytes") or DOCKER_DEFAULT_SHM
        if n < 2 or c.get("ipc_mode") == "host" or shm >= SHM_ENOUGH:
            continue
        make = error if shm <= DOCKER_DEFAULT_SHM else warning
        out.append(make(
            f"container {c['name']} uses {n} GPUs with {_gib(shm)} of /dev/shm and no `ipc: host`",
            "NCCL and the engine's worker processes exchange data through /dev/shm; at Docker's default size "
            "multi-GPU start-up fails with bus errors or NCCL shared-memory errors.",
            fix="Recreate the container with `--ipc=host` (compose `ipc: host`) or `--shm-size 16g` (compose `shm_size: 16gb`).",
            fixers=["fix-shm"],
            evidence=[f"docker.containers[{c['name']}].shm_size_bytes={shm}", f"docker.containers[{c['name']}].ipc_mode={c.get('ipc_mode')}"],
        ))
    return out


# --------------------------------------------------------------------------- V4D503
@_docker_check(
    "V4D503",
    title="Engine containers keep downloaded weights in a volume",
    troubleshooting="docker-no-model-cache",
    sources=["https://docs.vllm.ai/en/latest/deployment/docker.html", "https://hub.docker.com/r/ollama/ollama"],
    accepts_unknown=["model"],
)
def docker_model_cache(docker, kb, model):
    """A vLLM/SGLang container downloading from the Hub with no volume at its Hugging Face cache
    (or an Ollama container with none at /root/.ollama): every re-created container downloads the
    whole checkpoint again (~149 GiB for Flash, ~805 GiB for Pro). A model given as a path inside the
    container must sit on a mounted volume."""
    from v4doctor.knowledge.images import CACHE_DIRS

    out = []
    for c in _containers(docker, (*HF_ENGINES, "ollama")):
        dirs = list(CACHE_DIRS[c["engine"]]) + [v for k, v in (c.get("env") or {}).items() if k in ("HF_HOME", "HF_HUB_CACHE")]
        dests = [m.get("destination", "") for m in c.get("mounts") or []]
        ref = str(_launch_model(c) or "")
        if ref.startswith("/"):  # a path inside the container downloads nothing, but it must be there
            if not any(_covers(d, ref) for d in dests):
                out.append(_unmounted_model(c, ref, dests))
            continue
        if not any(_covers(d, cache) for d in dests for cache in dirs):
            out.append(_weights_in_container(c, dirs[0], dests, _download_size(c, kb, model)))
    return out


def _weights_in_container(c: dict[str, Any], cache: str, dests: list[str], size: str) -> Any:
    """No volume at the engine's cache: every re-created container downloads the checkpoint again."""
    return warning(
        f"container {c['name']} keeps its weights inside the container ({cache} is not a volume)",
        f"The download ({size}) lives in the container's writable layer and is lost whenever "
        "the container is re-created (`docker run --rm`, `docker compose down`/`up`, a new image), so it is downloaded again.",
        fix=f"Mount a volume or host directory at {cache}, e.g. `-v ~/.cache/huggingface:/root/.cache/huggingface`"
        if c["engine"] in HF_ENGINES else "Mount a volume at /root/.ollama, e.g. `-v ollama:/root/.ollama`.",
        evidence=[f"docker.containers[{c['name']}].mounts={dests}"],
    )


def _covers(mount: str, cache: str) -> bool:
    mount, cache = mount.rstrip("/"), cache.rstrip("/")
    return bool(mount) and (cache == mount or cache.startswith(mount + "/") or mount == cache + "/hub")


def _unmounted_model(c: dict[str, Any], ref: str, dests: list[str]) -> Any:
    """`--model /models/DeepSeek-V4-Flash` with nothing mounted at /models: the engine will not find it."""
    return warning(
        f"container {c['name']} serves {ref}, but no volume is mounted there",
        "Unless the image itself contains the checkpoint, the engine finds no files at that path "
        "(vLLM/transformers then try it as a Hub repo id and fail).",
        fix=f"Mount the host directory that holds the checkpoint, e.g. `-v /path/on/host:{ref.rsplit('/', 1)[0] or '/'}`.",
        evidence=[f"docker.containers[{c['name']}].launch.model={ref}", f"docker.containers[{c['name']}].mounts={dests}"],
    )


def _download_size(c: dict[str, Any], kb: Any, model: Any) -> str:
    record = _model_of(c, kb, model)
    if isinstance(record, dict) and record.get("disk_bytes"):
        return f"~{record['disk_bytes'] / GIB:.0f} GiB for {record.get('name', record.get('key'))}"
    return "the whole checkpoint"


# --------------------------------------------------------------------------- V4D505
@_docker_check(
    "V4D505",
    title="Engine containers stay up",
    troubleshooting="container-restart-loop",
    sources=["https://docs.docker.com/reference/cli/docker/container/logs/"],
)
def docker_restart_loop(docker):
    """A container in a restart loop (restarting, or restarted 3+ times), exited with an error, or
    OOM-killed (exit codes 130/137/143 of a plain `docker stop` are not crashes): its last log lines
    go through `v4doctor diagnose`, and the top diagnosis becomes the cause."""
    out = []
    for c in _containers(docker):
        st = c["state"]
        looping = st.get("restarting") or (c.get("restart_count") or 0) >= RESTART_LOOP
        crashed = st.get("status") == "exited" and st.get("exit_code") not in (0, None, *_STOPPED) or st.get("oom_killed")
        if looping or crashed:
            what = f"restarted {c.get('restart_count', 0)} times" if looping else f"exited with code {st.get('exit_code')}"
            out.append(_crash_finding(c, what + (" (killed by the out-of-memory killer)" if st.get("oom_killed") else "")))
    return out


def _crash_finding(c: dict[str, Any], what: str) -> Any:
    top = _top_diagnosis(c.get("diagnosis"))
    if top is None:
        return error(
            f"container {c['name']} ({c['image']}) {what}",
            "Its log names no problem v4doctor knows; the last lines are below.",
            fix=f"Read the whole log: `docker logs {c['name']} 2>&1 | v4doctor diagnose -`.",
            evidence=_tail(c),
        )
    lines = [f"{c['name']} log line {e.get('line')}: {e.get('text')}" for e in top.get("evidence") or []]
    return error(
        f"container {c['name']} ({c['image']}) {what}: {top.get('title')}",
        str(top.get("cause") or ""),
        fix=str(top.get("fix") or f"See `docker logs {c['name']}`."),
        evidence=lines or _tail(c),
        troubleshooting=top.get("troubleshooting"),
    )


def _top_diagnosis(diagnosis: Any) -> dict[str, Any] | None:
    if _unknown(diagnosis) or not isinstance(diagnosis, dict):
        return None
    found = [d for d in diagnosis.get("diagnoses") or [] if d.get("category") != "other"]
    return found[0] if found else None


# The image and command checks live next door; importing them here registers them with this module.
from v4doctor_checks.docker_images import (  # noqa: F401
    docker_engine_version,
    docker_image_cuda,
    docker_launch_plans,
)
