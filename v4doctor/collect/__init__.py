"""Collectors: the only layer that touches the host, the network or a file.

Each collector fails soft: whatever it cannot read becomes `Unknown(reason)`, and a
collector that raises is recorded as Unknown for its whole area. `gather()` runs them
all once and returns `Facts`. With `V4DOCTOR_FACTS=snapshot.json` in the environment,
`gather()` returns that snapshot instead of reading this host (replay, docs/facts.md).
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
REPLAY_ENV = "V4DOCTOR_FACTS"  # names a snapshot that gather() returns instead of reading this host


def gather(target: TargetFacts, paths: list[str] | None = None, progress: Callable[[str], None] | None = None) -> Facts:
    """Read this host once. The network probe (the hub) starts first and overlaps the local collectors,
    so `run` costs the slowest one; `progress` hears which areas are still being read.

    When V4DOCTOR_FACTS names a snapshot file, that snapshot is returned instead, planned for
    `target` (replay: a support engineer's copy of a user's host, or a test node's own facts)."""
    import os
    import threading

    if os.environ.get(REPLAY_ENV):
        return replay(os.environ[REPLAY_ENV], target)
    from concurrent.futures import ThreadPoolExecutor

    from v4doctor import __version__
    from v4doctor.collect import docker, gguf, gpu, hub, hubremote, software, system

    local_hub_done = threading.Event()
    hub_box: dict[str, Any] = {}

    def huggingface() -> Any:
        try:
            hub_box["facts"] = soft("huggingface", hub.collect, target)
        finally:
            local_hub_done.set()
        facts = hub_box["facts"]
        if not isinstance(facts, Unknown):
            facts.remote = soft("huggingface remote", functools.partial(hubremote.collect, timeout=HUB_TIMEOUT_S), target, facts)
        return facts

    def system_facts() -> Any:
        local_hub_done.wait()
        disk_paths = list(paths or [])
        facts = hub_box.get("facts")
        if facts is not None and not isinstance(facts, Unknown) and not isinstance(facts.cache_dir, Unknown):
            disk_paths.append(facts.cache_dir)
        return system.collect(disk_paths)

    jobs: dict[str, tuple] = {  # the network first: it is the slowest
        "huggingface": (huggingface,),
        "docker": (docker.collect,),
        "gpu": (gpu.collect,),
        "system": (system_facts,),
        "python": (software.collect_python,),
        "binaries": (software.collect_binaries,),
        "gguf": (gguf.collect, target),
    }
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="v4doctor-collect") as pool:
        futures = {area: pool.submit(soft, area, fn, *args) for area, (fn, *args) in jobs.items()}
        if progress is not None:
            _report_progress(futures, progress)
    got = {area: f.result() for area, f in futures.items()}
    return Facts(
        target=target,
        gpu=got["gpu"],
        system=got["system"],
        python=got["python"],
        binaries=got["binaries"] or {},
        hub=got["huggingface"],
        docker=got["docker"],
        gguf=got["gguf"],
        source="host",
        collected_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        v4doctor_version=__version__,
    )


_AREA_NAMES = {"huggingface": "the Hugging Face hub", "docker": "Docker", "gpu": "the GPUs (NVML)", "system": "disk and memory",
               "python": "the installed engines", "binaries": "the engine binaries", "gguf": "the GGUF files"}


def _report_progress(futures: dict[str, Any], progress: Callable[[str], None]) -> None:
    """Tell `progress` which areas are still being read, each time one finishes."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = set(futures.values())
    while pending:
        left = [_AREA_NAMES.get(a, a) for a, f in futures.items() if f in pending]
        progress("reading " + ", ".join(left))
        _, pending = wait(pending, return_when=FIRST_COMPLETED)


def host_for_gguf() -> tuple[Any, Any, dict]:
    """What `v4doctor gguf` needs of this host for its offload plan: GPUs, system, llama.cpp/Ollama binaries."""
    from v4doctor.collect import gpu, software, system

    binaries = {k: v for k, v in software.BINARIES.items() if k.startswith(("llama", "ollama"))}
    return soft("gpu", gpu.collect), soft("system", system.collect, []), soft("binaries", software.collect_binaries, binaries) or {}


def replay(path: str, target: TargetFacts) -> Facts:
    """The snapshot at `path` as this host's facts, planned for `target`; a bad file is a UsageError."""
    from v4doctor.judge.doctor import load_facts

    facts = load_facts(path)
    facts.target = target
    facts.source = "replay"
    return facts
