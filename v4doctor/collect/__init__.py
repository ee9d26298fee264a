"""Collectors: the only layer that touches the host, the network or a file.

Each collector fails soft: whatever it cannot read becomes `Unknown(reason)`, and a
collector that raises is recorded as Unknown for its whole area. `gather()` runs them
all once and returns `Facts`.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any, Callable

from v4doctor.facts import Facts, TargetFacts, Unknown


def soft(area: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one collector; an exception becomes Unknown naming the area and the error."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the doctor must never be the thing that crashes
        return Unknown(f"{area} collector failed: {type(exc).__name__}: {exc}")


HUB_TIMEOUT_S = 5.0  # `run` must stay fast on a host whose network drops packets


def gather(target: TargetFacts, paths: list[str] | None = None) -> Facts:
    """Read this host once: the collectors run side by side, so `run` costs the slowest one."""
    from v4doctor import __version__
    from v4doctor.collect import docker, gguf, gpu, hub, hubremote, software, system

    hub_facts = soft("huggingface", hub.collect, target)
    disk_paths = list(paths or [])
    if not isinstance(hub_facts, Unknown) and not isinstance(hub_facts.cache_dir, Unknown):
        disk_paths.append(hub_facts.cache_dir)
    jobs: dict[str, tuple] = {
        "gpu": (gpu.collect,),
        "system": (system.collect, disk_paths),
        "python": (software.collect_python,),
        "binaries": (software.collect_binaries,),
        "docker": (docker.collect,),
        "gguf": (gguf.collect, target),
    }
    if not isinstance(hub_facts, Unknown):
        jobs["huggingface remote"] = (functools.partial(hubremote.collect, timeout=HUB_TIMEOUT_S), target, hub_facts)
    got = _run_parallel(jobs)
    if not isinstance(hub_facts, Unknown):
        hub_facts.remote = got["huggingface remote"]
    return Facts(
        target=target,
        gpu=got["gpu"],
        system=got["system"],
        python=got["python"],
        binaries=got["binaries"] or {},
        hub=hub_facts,
        docker=got["docker"],
        gguf=got["gguf"],
        source="host",
        collected_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        v4doctor_version=__version__,
    )


def _run_parallel(jobs: dict[str, tuple]) -> dict[str, Any]:
    """Each collector in its own thread, each failing soft; results keyed by area."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="v4doctor-collect") as pool:
        futures = {area: pool.submit(soft, area, fn, *args) for area, (fn, *args) in jobs.items()}
    return {area: f.result() for area, f in futures.items()}
