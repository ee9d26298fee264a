"""Collectors: the only layer that touches the host, the network or a file.

Each collector fails soft: whatever it cannot read becomes `Unknown(reason)`, and a
collector that raises is recorded as Unknown for its whole area. `gather()` runs them
all once and returns `Facts`.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from v4doctor.facts import Facts, TargetFacts, Unknown


def soft(area: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one collector; an exception becomes Unknown naming the area and the error."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the doctor must never be the thing that crashes
        return Unknown(f"{area} collector failed: {type(exc).__name__}: {exc}")


def gather(target: TargetFacts, paths: list[str] | None = None) -> Facts:
    """Read this host once: GPUs, system, Python engines, binaries, Hugging Face, target."""
    from v4doctor import __version__
    from v4doctor.collect import docker, gguf, gpu, hub, hubremote, software, system

    hub_facts = soft("huggingface", hub.collect, target)
    if not isinstance(hub_facts, Unknown):
        hub_facts.remote = soft("huggingface remote", hubremote.collect, target, hub_facts)
    disk_paths = list(paths or [])
    if not isinstance(hub_facts, Unknown) and not isinstance(hub_facts.cache_dir, Unknown):
        disk_paths.append(hub_facts.cache_dir)
    return Facts(
        target=target,
        gpu=soft("gpu", gpu.collect),
        system=soft("system", system.collect, disk_paths),
        python=soft("python", software.collect_python),
        binaries=soft("binaries", software.collect_binaries) or {},
        hub=hub_facts,
        docker=soft("docker", docker.collect),
        gguf=soft("gguf", gguf.collect, target),
        source="host",
        collected_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        v4doctor_version=__version__,
    )
