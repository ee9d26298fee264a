"""Checks: running deployments in Docker (V4D50x).

Each check reads `docker` (the dict `v4doctor.collect.docker` records: the engine's GPU
runtime and every vLLM/SGLang/llama.cpp/Ollama container) and names the container in every
finding, so one host with three deploys gets three separate answers.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.version import InvalidVersion, Version

from v4doctor.api_check import Unknown, check, error, info, warning

GIB = 1024**3
DOCKER_DEFAULT_SHM = 64 * 1024**2  # moby/moby#29492: "The default size for /dev/shm is 64MB"
SHM_ENOUGH = 1 * GIB
RESTART_LOOP = 3
HF_ENGINES = ("vllm", "sglang")
_TP = ("tensor-parallel-size", "tp-size", "tp", "tensor_parallel_size")
_DP = ("data-parallel-size", "dp-size", "dp", "data_parallel_size")
_PP = ("pipeline-parallel-size", "pp-size", "pp", "pipeline_parallel_size")
_DOCKER_SRC = "https://docs.docker.com/reference/api/engine/version/v1.57/schemas/DeviceRequest/"


# --------------------------------------------------------------------------- reading the facts
def _unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, dict) and set(value) == {"unknown"})


def _containers(docker: dict[str, Any], engines: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [c for c in docker.get("containers") or [] if not engines or c.get("engine") in engines]


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


def _model_of(c: dict[str, Any], kb: Any, fallback: Any) -> Any:
    """The knowledge-base record of what the container serves (its command), else the target model."""
    launch = c.get("launch")
    ref = launch.get("model") if isinstance(launch, dict) and not _unknown(launch) else None
    record = kb.find_model(ref) if ref else None
    return record or fallback


def _gib(n: float) -> str:
    return f"{n / GIB:.0f} GiB" if n >= GIB else f"{n / 1024**2:.0f} MiB"


def _tail(c: dict[str, Any], n: int = 5) -> list[str]:
    logs = c.get("logs_tail")
    return [] if _unknown(logs) else [f"{c['name']} log: {line}" for line in (logs or [])[-n:]]


# --------------------------------------------------------------------------- V4D501
@check(
    "V4D501",
    title="Docker can give containers the GPUs",
    category="docker",
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
            "`docker info` lists runtimes " + ", ".join(docker.get("runtimes") or []) + "; a GPU container (`--gpus all`, compose "
            "`driver: nvidia`) is likely to fail with `could not select device driver \"nvidia\" with capabilities: [[gpu]]`.",
            fix="Install the NVIDIA Container Toolkit and register it with Docker.",
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
@check(
    "V4D502",
    title="Multi-GPU containers have enough shared memory",
    category="docker",
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
            fixers=["compose-shm"],
            evidence=[f"docker.containers[{c['name']}].shm_size_bytes={shm}", f"docker.containers[{c['name']}].ipc_mode={c.get('ipc_mode')}"],
        ))
    return out


# --------------------------------------------------------------------------- V4D503
@check(
    "V4D503",
    title="Engine containers keep downloaded weights in a volume",
    category="docker",
    troubleshooting="docker-no-model-cache",
    sources=["https://docs.vllm.ai/en/latest/deployment/docker.html", "https://hub.docker.com/r/ollama/ollama"],
    accepts_unknown=["model"],
)
def docker_model_cache(docker, kb, model):
    """A vLLM/SGLang container downloading from the Hub with no volume at its Hugging Face cache
    (or an Ollama container with none at /root/.ollama): every re-created container downloads the
    whole checkpoint again (~149 GiB for Flash, ~805 GiB for Pro)."""
    from v4doctor.collect.docker import CACHE_DIRS

    out = []
    for c in _containers(docker, (*HF_ENGINES, "ollama")):
        dirs = list(CACHE_DIRS[c["engine"]]) + [v for k, v in (c.get("env") or {}).items() if k in ("HF_HOME", "HF_HUB_CACHE")]
        dests = [m.get("destination", "") for m in c.get("mounts") or []]
        if any(_covers(d, cache) for d in dests for cache in dirs) or _local_model(c, dests):
            continue
        out.append(warning(
            f"container {c['name']} keeps its weights inside the container ({dirs[0]} is not a volume)",
            f"The download ({_download_size(c, kb, model)}) lives in the container's writable layer and is lost whenever "
            "the container is re-created (`docker run --rm`, `docker compose down`/`up`, a new image), so it is downloaded again.",
            fix=f"Mount a volume or host directory at {dirs[0]}, e.g. `-v ~/.cache/huggingface:/root/.cache/huggingface`"
            if c["engine"] in HF_ENGINES else "Mount a volume at /root/.ollama, e.g. `-v ollama:/root/.ollama`.",
            evidence=[f"docker.containers[{c['name']}].mounts={dests}"],
        ))
    return out


def _covers(mount: str, cache: str) -> bool:
    mount, cache = mount.rstrip("/"), cache.rstrip("/")
    return bool(mount) and (cache == mount or cache.startswith(mount + "/") or mount == cache + "/hub")


def _local_model(c: dict[str, Any], dests: list[str]) -> bool:
    """`--model /models/DeepSeek-V4-Flash` from a mounted directory downloads nothing."""
    launch = c.get("launch")
    ref = launch.get("model") if isinstance(launch, dict) and not _unknown(launch) else None
    return bool(ref) and ref.startswith("/") and any(_covers(d, ref) for d in dests)


def _download_size(c: dict[str, Any], kb: Any, model: Any) -> str:
    record = _model_of(c, kb, model)
    if isinstance(record, dict) and record.get("disk_bytes"):
        return f"~{record['disk_bytes'] / GIB:.0f} GiB for {record.get('name', record.get('key'))}"
    return "the whole checkpoint"


# --------------------------------------------------------------------------- V4D504
@check(
    "V4D504",
    title="Container images match the host driver's CUDA",
    category="docker",
    troubleshooting="driver-too-old-cuda13",
    sources=["https://github.com/MauriceNino/dashdot/issues/1226", "https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html", "https://github.com/modelscope/FunASR/issues/2973"],
)
def docker_image_cuda(docker, gpu, kb):
    """An image built for a newer CUDA than the host driver supports (CUDA 13 needs R580,
    ≥ 580.65.06; 12.9 needs ≥ 575.51.03): nvidia-container-cli refuses to start it
    (`unsatisfied condition: cuda>=13.0`), or the engine fails with `driver … too old`."""
    out = []
    for c in _containers(docker):
        need = c.get("cuda") if not _unknown(c.get("cuda")) else _kb_image(kb, c).get("cuda")
        floor = _driver_floor(kb, need) if need else None
        if need and _driver_too_old(gpu, need, floor):
            out.append(_cuda_finding(c, need, floor, gpu))
    return out


def _kb_image(kb: Any, c: dict[str, Any]) -> dict[str, Any]:
    """The knowledge base's record for this image: by exact name, else by tag pattern."""
    from v4doctor.collect.docker import split_image

    name, tag = split_image(c["image"])
    for r in kb.records("image"):
        rname, _, rtag = r["name"].rpartition(":")
        if rname == name and (rtag == tag or (r.get("pattern") and re.match(r["pattern"], tag))):
            return r
    return {}


def _driver_floor(kb: Any, cuda: str) -> dict[str, Any] | None:
    rows = {r["cuda"]: r for r in kb.records("cuda_driver")}
    major = cuda.split(".")[0]
    return rows.get(cuda) or rows.get(f"{major}.0")


def _vt(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", str(text))[:3])


def _driver_too_old(gpu: Any, need: str, floor: dict[str, Any] | None) -> bool:
    host_cuda = getattr(gpu, "cuda_driver_version", None)
    if host_cuda and not _unknown(host_cuda):
        return _vt(host_cuda)[:2] < _vt(need)[:2]
    driver = getattr(gpu, "driver_version", None)
    return bool(floor and driver and not _unknown(driver) and _vt(driver) < _vt(floor["min_driver"]))


def _cuda_finding(c: dict[str, Any], need: str, floor: dict[str, Any] | None, gpu: Any) -> Any:
    minimum = f" (CUDA {need} needs driver ≥ {floor['min_driver']}, branch {floor['branch']})" if floor else ""
    refused = "unsatisfied condition: cuda>=" in c["state"].get("error", "")
    evidence = [f"docker.containers[{c['name']}].cuda={need} ({c.get('cuda_source') or 'knowledge base'})", f"gpu.driver_version={gpu.driver_version}"]
    if refused:
        evidence.append(f"docker.containers[{c['name']}].state.error: " + c["state"]["error"].splitlines()[-1])
    return error(
        f"container {c['name']}: image {c['image']} is a CUDA {need} build; the host driver {gpu.driver_version} "
        f"supports CUDA {gpu.cuda_driver_version}",
        "The NVIDIA container runtime refuses images that need a newer CUDA than the driver provides "
        f"(`nvidia-container-cli: requirement error: unsatisfied condition: cuda>={need}`){minimum}.",
        fix=f"Upgrade the NVIDIA driver{' to ≥ ' + floor['min_driver'] if floor else ''}, or use an image built for the "
        "host's CUDA (vLLM and SGLang publish `-cu129` tags; CUDA 12.9 needs driver ≥ 575.51.03).",
        fixers=["image-cu129"],
        evidence=evidence,
    )


# --------------------------------------------------------------------------- V4D505
@check(
    "V4D505",
    title="Engine containers stay up",
    category="docker",
    troubleshooting="container-restart-loop",
    sources=["https://docs.docker.com/reference/cli/docker/container/logs/"],
)
def docker_restart_loop(docker):
    """A container in a restart loop (restarting, or restarted 3+ times) or exited with an error:
    its last log lines go through `v4doctor diagnose`, and the top diagnosis becomes the cause."""
    out = []
    for c in _containers(docker):
        st = c["state"]
        looping = st.get("restarting") or (c.get("restart_count") or 0) >= RESTART_LOOP
        crashed = st.get("status") == "exited" and st.get("exit_code") not in (0, None)
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


# --------------------------------------------------------------------------- V4D506
@check(
    "V4D506",
    title="Container images are new enough for the model",
    category="docker",
    troubleshooting="engine-too-old",
    sources=["https://github.com/scalytics/ScalyticsCopilot/pull/69", "https://github.com/sgl-project/sglang/releases/tag/v0.5.12", "https://github.com/ggml-org/llama.cpp/pull/24162"],
    accepts_unknown=["model"],
)
def docker_engine_version(docker, kb, model):
    """An engine image older than the model's floor (vLLM 0.20.0 for V4, 0.25.0 for DSpark
    checkpoints; SGLang 0.5.12; llama.cpp b9840), read from the image tag; `latest` is noted."""
    out = []
    for c in _containers(docker, ("vllm", "sglang", "llamacpp")):
        record = _model_of(c, kb, model)
        version = c.get("engine_version")
        if _unknown(version) or not version:
            if c.get("tag") == "latest" or c["engine"] == "llamacpp":
                out.append(_latest_note(c))
            continue
        floor = _floor(kb, record, c["engine"]) if isinstance(record, dict) else None
        if floor and _older(version, floor["min"]):
            out.append(error(
                f"container {c['name']}: {c['engine']} {version} ({c['image']}) is older than {floor['min']}, "
                f"the first release that runs {record.get('name', record.get('key'))}",
                floor.get("reason", ""),
                fix=f"Use an image of {c['engine']} ≥ {floor['min']} and re-create the container.",
                evidence=[f"docker.containers[{c['name']}].tag={c['tag']}"],
                sources=list(floor.get("sources", [])),
            ))
    return out


def _floor(kb: Any, record: dict[str, Any], engine: str) -> dict[str, Any] | None:
    """The highest `engine_floor` whose conditions hold for this model (GPU-family floors aside)."""
    hits = [
        f for f in kb.records("engine_floor")
        if f["engine"] == engine and f.get("min") and f.get("when_family") in (None, record.get("family"))
        and f.get("when_dspark") in (None, bool(record.get("dspark"))) and not f.get("when_gpu_family")
    ]
    return max(hits, key=lambda f: _key(f["min"]), default=None)


def _key(v: str) -> Any:
    if v.startswith("b") and v[1:].isdigit():
        return Version(v[1:])
    try:
        return Version(v)
    except InvalidVersion:
        return Version("0")


def _older(version: str, minimum: str) -> bool:
    return _key(version) < _key(minimum)


def _latest_note(c: dict[str, Any]) -> Any:
    return info(
        f"container {c['name']} runs {c['image']}: the engine version depends on when the image was pulled",
        f"The tag `{c.get('tag')}` moves and names no version; an image pulled before the model's engine floor keeps it.",
        fix="Pin a version tag (e.g. `vllm/vllm-openai:v0.28.0`) so the deploy is reproducible.",
        evidence=[f"docker.containers[{c['name']}].tag=latest"],
    )


# --------------------------------------------------------------------------- V4D507
@check(
    "V4D507",
    title="Container commands pass the launch-plan checks",
    category="docker",
    sources=["https://docs.docker.com/reference/api/engine/version/v1.57/"],
)
def docker_launch_plans(docker, facts):
    """Each vLLM/SGLang/llama.cpp container's command judged as if passed with `--cmd`, on the GPUs the
    container was given: the launch checks' problems come back named by container and launch check."""
    from v4doctor.context import Context
    from v4doctor.doctor import registry
    from v4doctor.registry import run_checks

    plan_checks = [c for c in registry().checks if c.category in ("launch", "flags")]
    out = []
    for c in _containers(docker, ("vllm", "sglang", "llamacpp")):
        if _unknown(c.get("launch")):
            continue
        for f in run_checks(Context(_container_facts(facts, c)), plan_checks):
            if f.severity.value in ("error", "warning", "info"):
                f.evidence = [f"launch check {f.id} ({f.check}) on the command of container {c['name']}", *f.evidence]
                f.title, f.id, f.category = f"container {c['name']}: {f.title}", "", ""
                out.append(f)
    return out


def _container_facts(facts: Any, c: dict[str, Any]) -> Any:
    """The host's facts with the container's command, engine, version and GPUs as the target."""
    import dataclasses

    launch = c["launch"]
    version = c.get("engine_version")
    target = dataclasses.replace(
        facts.target, cmd=list(c["argv"]), compose_path=Unknown("a container"), compose_text=Unknown("a container"),
        engine=c["engine"], model=launch.get("model") or facts.target.model,
        engine_version=version if version and not _unknown(version) else Unknown(f"the tag {c.get('tag')!r} names no version"),
    )
    inside = Unknown(f"the host's Python and binaries are not those inside container {c['name']}")
    return dataclasses.replace(facts, target=target, gpu=_container_gpus(facts.gpu, c), python=inside, binaries={},
                               docker=Unknown("judged per container"))


def _container_gpus(gpu: Any, c: dict[str, Any]) -> Any:
    """Only the GPUs the container was given (`device_ids: ["0","1"]`, `count: 4`), when that is knowable."""
    import dataclasses

    devices = getattr(gpu, "devices", None)
    if not isinstance(devices, list):
        return gpu
    ids = [d for r in c.get("device_requests") or [] for d in r.get("device_ids") or []]
    counts = [r.get("count", 0) for r in c.get("device_requests") or []]
    if ids and all(i.isdigit() for i in ids):
        devices = [d for d in devices if str(d.index) in ids]
    elif counts and all(n > 0 for n in counts):
        devices = devices[: sum(counts)]
    return dataclasses.replace(gpu, devices=devices)
