"""Fleet facts: what `run --ray` gathered from every node of a Ray cluster, typed like Facts.

One `NodeFacts` per Ray node: the node's own `Facts` (the same collectors as `run`), its
network interfaces and the NCCL/Gloo/vLLM variables its Ray workers see, and a fingerprint
of the checkpoint it would load. `FleetFacts` adds the cluster's own view (Ray version,
address, nodes and their resources). A node that did not answer keeps `facts` Unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v4doctor.facts import Facts, Unknown, from_data, to_data

FLEET_SCHEMA_VERSION = 1
# The variables that decide which interface NCCL, Gloo and vLLM use between nodes, and how Ray places work.
NETWORK_ENV = (
    "NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME", "NCCL_IB_HCA", "NCCL_IB_DISABLE",
    "NCCL_NET", "NCCL_DEBUG", "VLLM_HOST_IP", "VLLM_PORT", "MASTER_ADDR", "MASTER_PORT",
    "CUDA_VISIBLE_DEVICES", "RAY_ADDRESS",
)


@dataclass
class NetworkFacts:
    """A node's interfaces (name -> IPv4 addresses) and its NCCL/Gloo/vLLM environment. Sample: {"eth0": ["10.0.0.2"]}."""

    hostname: str | Unknown
    interfaces: dict[str, list[str]] | Unknown
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class CheckpointFacts:
    """What a node holds of the checkpoint: where, how many bytes, and sha256 of its small index/config files."""

    path: str | Unknown  # the local directory or the Hugging Face cache snapshot it would load
    total_bytes: int | Unknown = Unknown("not read")
    shards: int | Unknown = Unknown("not read")  # *.safetensors files
    hashes: dict[str, str] | Unknown = Unknown("not read")  # file name -> sha256 (config.json, *.index.json, ...)
    filesystem: str | Unknown = Unknown("not read")  # nfs, lustre, ext4 ... (a shared path is read once by all)


@dataclass(eq=False)  # a node is itself: hashable by identity, so checks can key dicts by node
class NodeFacts:
    """One Ray node: its identity, resources, and what v4doctor's collectors read there."""

    node_id: str
    address: str
    is_head: bool = False
    alive: bool = True
    resources: dict[str, float] = field(default_factory=dict)  # Ray's total resources: CPU, GPU, memory ...
    ray_version: str | Unknown = Unknown("not read")  # the ray package of that node's worker Python
    nccl_version: str | Unknown = Unknown("not read")  # the nvidia-nccl-cu13/-cu12 wheel torch loads
    ray_pins: dict[str, str] = field(default_factory=dict)  # engine -> its Requires-Dist on ray ("ray[cgraph]>=2.48.0")
    facts: Facts | Unknown = Unknown("not collected")
    network: NetworkFacts | Unknown = Unknown("not collected")
    checkpoint: CheckpointFacts | Unknown = Unknown("not collected")
    elapsed_s: float | Unknown = Unknown("not collected")

    @property
    def gpus(self) -> int | Unknown:
        """GPUs NVML sees on the node, else the GPUs Ray counts, else Unknown."""
        facts = self.facts
        if not isinstance(facts, Unknown) and not isinstance(facts.gpu, Unknown) and not isinstance(facts.gpu.devices, Unknown):
            return len(facts.gpu.devices)
        if "GPU" in self.resources:
            return int(self.resources["GPU"])
        return facts if isinstance(facts, Unknown) else Unknown("GPUs not read")

    @property
    def label(self) -> str:
        """How findings name the node: its address and the head of its id."""
        return f"{self.address} ({self.node_id[:8]}{', head' if self.is_head else ''})"


@dataclass
class ClusterFacts:
    ray_version: str | Unknown
    address: str
    nodes_total: int = 0  # including dead ones
    nodes_alive: int = 0
    resources: dict[str, float] = field(default_factory=dict)


@dataclass
class FleetFacts:
    """The whole cluster: its own facts, one NodeFacts per node, the head's Facts for the plan."""

    cluster: ClusterFacts
    nodes: list[NodeFacts] = field(default_factory=list)
    schema_version: int = FLEET_SCHEMA_VERSION

    @property
    def alive(self) -> list[NodeFacts]:
        return [n for n in self.nodes if n.alive]

    @property
    def answered(self) -> list[NodeFacts]:
        """Alive nodes whose collectors answered (their facts are known)."""
        return [n for n in self.nodes if n.alive and not isinstance(n.facts, Unknown)]

    @property
    def head(self) -> NodeFacts | None:
        return next((n for n in self.nodes if n.is_head), None)


def fleet_to_json(fleet: FleetFacts) -> dict[str, Any]:
    return to_data(fleet)


def fleet_from_json(data: Any) -> FleetFacts:
    """Read a fleet snapshot (`snapshot --ray`); FactsError names the bad path."""
    return from_data(FleetFacts, data, "fleet")
