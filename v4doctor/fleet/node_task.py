"""What runs ON each Ray node: v4doctor's own collectors, returned as JSON-ready data.

The head sends the planned target as data; the node answers with plain dicts (never pickled
v4doctor objects), so a node with another v4doctor release still answers in the snapshot format.
`V4DOCTOR_FACTS` on a node replays a snapshot there, like everywhere (docs/facts.md).
"""

from __future__ import annotations

import time
from typing import Any


def collect_node(target_data: dict[str, Any], paths: list[str] | None = None) -> dict[str, Any]:
    """This node's Facts, network and checkpoint fingerprint, and the Ray version of this Python."""
    from v4doctor.collect import gather, soft
    from v4doctor.collect.node import checkpoint_dir, collect_checkpoint, collect_network
    from v4doctor.facts import TargetFacts, Unknown, facts_to_json, from_data, known, to_data

    started = time.perf_counter()
    target = from_data(TargetFacts, target_data, "target")
    facts = gather(target, paths)
    cache = facts.hub.cache_dir if known(facts.hub) else Unknown("no Hugging Face cache read")
    where = checkpoint_dir(target, cache)
    return {
        "facts": facts_to_json(facts),
        "network": to_data(soft("network", collect_network)),
        "checkpoint": to_data(soft("checkpoint", collect_checkpoint, where)),
        "ray_version": to_data(_version("ray")),
        "nccl_version": to_data(_nccl_version()),
        "ray_pins": _ray_pins(),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


def _version(dist: str):
    from importlib import metadata

    from v4doctor.facts import Unknown

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return Unknown(f"{dist} is not installed in this Python")


def _nccl_version():
    """The NCCL wheel torch loads (nvidia-nccl-cu13, else -cu12); Unknown when neither is installed."""
    from v4doctor.facts import Unknown, known

    for dist in ("nvidia-nccl-cu13", "nvidia-nccl-cu12"):
        v = _version(dist)
        if known(v):
            return v
    return Unknown("no nvidia-nccl wheel in this Python (a system NCCL is not read)")


def _ray_pins() -> dict[str, str]:
    """What each installed engine requires of ray, from its own metadata: {"vllm": "ray[cgraph]>=2.48.0"}."""
    from importlib import metadata

    pins = {}
    for engine in ("vllm", "sglang"):
        try:
            reqs = metadata.requires(engine) or []
        except metadata.PackageNotFoundError:
            continue
        found = [r for r in reqs if r.split(";")[0].strip().lower().startswith("ray") and "extra ==" not in r]
        if found:
            pins[engine] = found[0].split(";")[0].strip()
    return pins
