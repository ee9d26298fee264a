"""Gather a Ray cluster: one task pinned to each alive node runs v4doctor's collectors there.

    ray.init(address) -> ray.nodes() -> collect_node.options(
        num_cpus=0, num_gpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)).remote(...)

No GPU and no CPU is reserved, so a node whose GPUs a running engine holds still answers (the
GPUs are read through NVML, which needs no CUDA device). A node that does not answer within
`timeout_s` is recorded with Unknown facts and the run goes on. Ray is imported only here.
"""

from __future__ import annotations

import time
from typing import Any

from v4doctor.errors import UsageError
from v4doctor.facts import TargetFacts, Unknown, from_data, to_data
from v4doctor.facts.fleet import CheckpointFacts, ClusterFacts, FleetFacts, NetworkFacts, NodeFacts

INSTALL_HINT = "`--ray` needs Ray in this Python: pip install 'v4doctor[ray]' (the same Ray version as the cluster)"
HEAD_RESOURCE = "node:__internal_head__"  # Ray gives the head node this resource
NODE_TIMEOUT_S = 60.0


def import_ray():
    """The ray module, or a UsageError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


def gather_fleet(address: str, target: TargetFacts, paths: list[str] | None = None, *, timeout_s: float = NODE_TIMEOUT_S) -> FleetFacts:
    """Connect to the cluster at `address`, collect every alive node, disconnect."""
    ray = import_ray()
    owned = not ray.is_initialized()  # an embedder already connected keeps its connection (and `address` is ignored)
    if owned:
        _connect(ray, address)
    try:
        nodes = [_node(n) for n in ray.nodes()]
        cluster = ClusterFacts(ray_version=ray.__version__, address=address, nodes_total=len(nodes),
                               nodes_alive=sum(n.alive for n in nodes), resources=_floats(ray.cluster_resources()))
        _collect(ray, [n for n in nodes if n.alive], target, paths, timeout_s)
        return FleetFacts(cluster=cluster, nodes=sorted(nodes, key=lambda n: (not n.is_head, n.address, n.node_id)))
    finally:
        if owned:
            ray.shutdown()


def _connect(ray, address: str) -> None:
    _reachable(address)
    try:
        ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
    except Exception as exc:  # ConnectionError, a version mismatch, a bad address: bad input, one line
        raise UsageError(f"cannot connect to the Ray cluster at {address}: {type(exc).__name__}: {_first_line(exc)}") from None


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """A host:port address must accept a TCP connection (Ray itself retries an unreachable one for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        if address not in ("auto", "local") and not address.startswith("ray://"):
            raise UsageError(f"--ray {address!r}: give the head's host:port (e.g. 10.0.0.1:6379) or auto")
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise UsageError(f"cannot connect to the Ray cluster at {address}: {exc.strerror or exc} (is `ray start --head` running there?)") from None


def _node(raw: dict[str, Any]) -> NodeFacts:
    """A NodeFacts from one `ray.nodes()` entry (NodeID, NodeManagerAddress, Alive, Resources)."""
    resources = _floats(raw.get("Resources") or {})
    alive = bool(raw.get("Alive", raw.get("alive", False)))
    node = NodeFacts(node_id=str(raw.get("NodeID", "")), address=str(raw.get("NodeManagerAddress", "")),
                     is_head=HEAD_RESOURCE in resources, alive=alive,
                     resources={k: v for k, v in resources.items() if not k.startswith("node:")})
    if not alive:
        node.facts = Unknown("the node is dead in Ray's view (ray status lists it as failed)")
    return node


def _floats(resources: dict[str, Any]) -> dict[str, float]:
    return {str(k): float(v) for k, v in resources.items() if isinstance(v, (int, float))}


def _collect(ray, nodes: list[NodeFacts], target: TargetFacts, paths: list[str] | None, timeout_s: float) -> None:
    """Submit one pinned task per node, wait up to `timeout_s` for all, fill each node in place."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from v4doctor.fleet.node_task import collect_node

    task = ray.remote(collect_node)
    target_data = to_data(target)
    refs = {}
    for node in nodes:
        strategy = NodeAffinitySchedulingStrategy(node_id=node.node_id, soft=False)
        refs[node.node_id] = task.options(num_cpus=0, num_gpus=0, max_retries=0, scheduling_strategy=strategy,
                                          name=f"v4doctor-collect-{node.node_id[:8]}").remote(target_data, paths)
    started = time.monotonic()
    ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout_s)
    waited = time.monotonic() - started
    for node in nodes:
        ref = refs[node.node_id]
        if ref in ready:
            _fill(node, _get(ray, ref))
        else:
            ray.cancel(ref, force=True)
            node.facts = Unknown(f"the node did not answer within {timeout_s:g} s (waited {waited:.1f} s)")


def _get(ray, ref) -> dict[str, Any] | Unknown:
    try:
        return ray.get(ref, timeout=5)
    except Exception as exc:  # the task raised on the node, or the node died meanwhile
        return Unknown(f"the collector failed on the node: {type(exc).__name__}: {_first_line(exc)}")


def _fill(node: NodeFacts, answer: dict[str, Any] | Unknown) -> None:
    """Type the node's answer; a malformed answer (another v4doctor release) becomes Unknown, not a crash."""
    if isinstance(answer, Unknown):
        node.facts = answer
        return
    from v4doctor.facts import FactsError, facts_from_json

    try:
        node.facts = facts_from_json(answer["facts"])
        node.network = from_data(NetworkFacts | Unknown, answer["network"], "network")
        node.checkpoint = from_data(CheckpointFacts | Unknown, answer["checkpoint"], "checkpoint")
        node.ray_version = from_data(str | Unknown, answer["ray_version"], "ray_version")
        node.nccl_version = from_data(str | Unknown, answer["nccl_version"], "nccl_version")
        node.ray_pins = {str(k): str(v) for k, v in dict(answer.get("ray_pins") or {}).items()}
        node.elapsed_s = float(answer["elapsed_s"])
    except (FactsError, KeyError, TypeError, ValueError) as exc:
        node.facts = Unknown(f"the node's answer is not in this v4doctor's format: {exc}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
