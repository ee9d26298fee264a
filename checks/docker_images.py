"""Checks: what a Docker container runs (V4D504, V4D506, V4D507): its image's CUDA build and engine
version, and its command judged by the launch-plan checks. Registered through `v4doctor_checks.docker`."""

from __future__ import annotations

import re
from typing import Any

from packaging.version import InvalidVersion, Version
from v4doctor_checks._host import driver_tuple, engine_floors
from v4doctor_checks.docker import _containers, _docker_check, _model_of, _unknown

from v4doctor.judge.authoring import Unknown, error, info


# --------------------------------------------------------------------------- V4D504
@_docker_check(
    "V4D504",
    title="Container images match the host driver's CUDA",
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
    from v4doctor.knowledge.images import split_image

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


def _driver_too_old(gpu: Any, need: str, floor: dict[str, Any] | None) -> bool:
    host_cuda = getattr(gpu, "cuda_driver_version", None)
    if host_cuda and not _unknown(host_cuda):
        return driver_tuple(str(host_cuda))[:2] < driver_tuple(str(need))[:2]
    driver = getattr(gpu, "driver_version", None)
    return bool(floor and driver and not _unknown(driver) and driver_tuple(str(driver))[:3] < driver_tuple(floor["min_driver"])[:3])


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
        fixers=["fix-cuda-image"],
        evidence=evidence,
    )


# --------------------------------------------------------------------------- V4D506
@_docker_check(
    "V4D506",
    title="Container images are new enough for the model",
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
    """The highest `engine_floor` with a minimum whose conditions hold for this model (GPU-family floors aside)."""
    hits = [f for f in engine_floors(kb, engine, record) if f.get("min")]
    return max(hits, key=lambda f: _key(f["min"]), default=None)


def _key(v: str) -> Any:
    """A tag's version, comparable across the engine's floors; an unreadable one counts as 0 (older than any floor)."""
    if v.startswith("b") and v[1:].isdigit():
        return Version(v[1:])
    try:
        return Version(v)
    except InvalidVersion:
        return Version("0")


def _older(version: str, minimum: str) -> bool:
    return _key(version) < _key(minimum)


def _latest_note(c: dict[str, Any]) -> Any:
    pin = "a build-numbered tag (b9840 or later for V4)" if c["engine"] == "llamacpp" else "a version tag (e.g. `vllm/vllm-openai:v0.28.0`)"
    return info(
        f"container {c['name']} runs {c['image']}: the engine version depends on when the image was pulled",
        f"The tag `{c.get('tag')}` moves and names no version; an image pulled before the model's engine floor keeps it.",
        fix=f"Pin {pin} so the deploy is reproducible.",
        evidence=[f"docker.containers[{c['name']}].tag={c.get('tag')}"],
    )


# --------------------------------------------------------------------------- V4D507
@_docker_check(
    "V4D507",
    title="Container commands pass the launch-plan checks",
    sources=["https://docs.docker.com/reference/api/engine/version/v1.57/"],
)
def docker_launch_plans(docker, facts):
    """Each vLLM/SGLang/llama.cpp container's command judged as if passed with `--cmd`, on the GPUs the
    container was given: the launch checks' problems come back named by container and launch check."""
    from v4doctor.judge.context import Context
    from v4doctor.judge.doctor import registry
    from v4doctor.judge.registry import run_checks

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
