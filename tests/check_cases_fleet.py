"""Hit and no-hit cases for the fleet checks (V4D701-V4D708), folded into tests/check_cases.py.

A builder returns (Facts of the node the plan starts on, FleetFacts). The nodes are recorded
host fixtures (fixtures/hosts/8xh100-80g.json, 8xb200.json) with synthetic network, checkpoint
and Ray facts; each case changes one thing on one node.
"""

from __future__ import annotations

import copy
import dataclasses
import shlex

from check_cases import GIB, host
from v4doctor.facts import Unknown
from v4doctor.facts.fleet import CheckpointFacts, ClusterFacts, FleetFacts, NetworkFacts, NodeFacts

PRO_2x8 = "vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8 -pp 2 --distributed-executor-backend ray --max-model-len 65536"
HASHES = {"config.json": "a" * 64, "model.safetensors.index.json": "b" * 64}


def node(i: int, fixture: str = "8xh100-80g", **changes) -> NodeFacts:
    """Node i of a cluster: 10.0.0.1i on eth0, the Pro checkpoint at /models/pro, ray 2.60.0, NCCL 2.27.7."""
    addr = f"10.0.0.{10 + i}"
    n = NodeFacts(node_id=f"{i:02d}" + "ab" * 27, address=addr, is_head=i == 0, resources={"GPU": 8.0, "CPU": 96.0},
                  ray_version="2.60.0", nccl_version="2.27.7", ray_pins={"vllm": "ray[cgraph]>=2.48.0"},
                  facts=host(fixture, model="pro"),
                  network=NetworkFacts(hostname=f"node{i}", interfaces={"eth0": [addr], "lo": ["127.0.0.1"]}),
                  checkpoint=CheckpointFacts(path="/models/pro", total_bytes=864 * 10**9, shards=64, hashes=dict(HASHES), filesystem="ext4"),
                  elapsed_s=0.8)
    return dataclasses.replace(n, **changes)


def fleet(*nodes: NodeFacts, cmd: str = PRO_2x8):
    """(the head's facts with the plan `cmd`, the fleet)."""
    f = FleetFacts(cluster=ClusterFacts(ray_version="2.60.0", address="10.0.0.10:6379", nodes_total=len(nodes),
                                        nodes_alive=sum(n.alive for n in nodes)), nodes=list(nodes))
    facts = copy.deepcopy(nodes[0].facts) if not isinstance(nodes[0].facts, Unknown) else host("8xh100-80g", model="pro")
    facts.target.cmd = shlex.split(cmd)
    return facts, f


def two(**second) -> tuple:
    return fleet(node(0), node(1, **second))


def _driver(version: str):
    facts = host("8xh100-80g", model="pro")
    facts.gpu.driver_version = version
    return facts


def _package(name: str, version: str):
    facts = host("8xh100-80g", model="pro")
    facts.python.packages[name] = version
    return facts


def _python(version: str):
    facts = host("8xh100-80g", model="pro")
    facts.python.version = version
    return facts


def _shm(size: int):
    facts = host("8xh100-80g", model="pro")
    facts.system = dataclasses.replace(facts.system, shm_bytes=size)
    return facts


def _gpus(count: int):
    facts = host("8xh100-80g", model="pro")
    facts.gpu.devices = facts.gpu.devices[:count]
    return facts


def smaller(i: int, gpus: int) -> NodeFacts:
    """Node i with `gpus` GPUs, as NVML and Ray both count them."""
    return node(i, facts=_gpus(gpus), resources={"GPU": float(gpus), "CPU": 96.0})


def _env(**env):
    return NetworkFacts(hostname="node1", interfaces={"eth0": ["10.0.0.11"], "lo": ["127.0.0.1"]}, env=env)


CASES = [
    ("V4D701", lambda: two(facts=Unknown("the node did not answer within 60 s (waited 60.0 s)")), "warning", "one node's collector timed out"),
    ("V4D701", lambda: two(alive=False, facts=Unknown("the node is dead in Ray's view")), "warning", "Ray lists a dead node"),
    ("V4D701", lambda: two(), "ok", "both nodes answered"),
    ("V4D702", lambda: two(facts=_package("vllm", "0.26.0")), "error", "vLLM 0.26.0 on one node, 0.33.0 elsewhere"),
    ("V4D702", lambda: two(facts=_driver("570.86.15")), "warning", "another driver build on one node"),
    ("V4D702", lambda: two(ray_version="2.48.0"), "error", "another Ray on one node"),
    ("V4D702", lambda: two(facts=_python("3.12.4")), "error", "Python 3.12.4 next to 3.12.3: Ray compares the patch release"),
    ("V4D702", lambda: two(), "ok", "the same versions everywhere"),
    ("V4D703", lambda: two(ray_version="2.40.0"), "error", "ray 2.40.0 outside vLLM's ray[cgraph]>=2.48.0"),
    ("V4D703", lambda: two(), "ok", "ray 2.60.0 satisfies >=2.48.0"),
    ("V4D703", lambda: two(ray_pins={}), "ok", "no engine pin to compare (engine not installed there)"),
    ("V4D704", lambda: two(checkpoint=CheckpointFacts(path="/models/pro", total_bytes=Unknown("/models/pro is not a directory on this node"))),
     "error", "the weights exist only on the head"),
    ("V4D704", lambda: two(checkpoint=CheckpointFacts(path="/models/pro", total_bytes=864 * 10**9, shards=64,
                                                      hashes={**HASHES, "config.json": "c" * 64})), "error", "another config.json on one node"),
    ("V4D704", lambda: two(), "ok", "the same files on both nodes"),
    ("V4D705", lambda: fleet(node(0)), "error", "TP 8 x PP 2 = 16 GPUs on one 8-GPU node"),
    ("V4D705", lambda: fleet(node(0), smaller(1, 4)), "error", "a 4-GPU node cannot host a TP-8 stage"),
    ("V4D705", lambda: fleet(node(0), node(1), smaller(2, 4), cmd=PRO_2x8.replace("-pp 2", "-pp 2 -dp 1")), "error",
     "three nodes, one with 4 GPUs: a TP-8 stage cannot go there"),
    ("V4D705", lambda: two(resources={"GPU": 4.0, "CPU": 96.0}), "error", "Ray offers 4 of the node's 8 GPUs: 12 < 16"),
    ("V4D705", lambda: fleet(node(0), node(1), node(2, resources={"GPU": 4.0}), cmd=PRO_2x8.replace("-tp 8", "-tp 4")), "warning",
     "Ray offers 4 of a node's 8 GPUs; TP 4 x PP 2 still fits"),
    ("V4D705", lambda: two(), "ok", "2 nodes x 8 GPUs for TP 8 x PP 2"),
    ("V4D706", lambda: two(network=_env(NCCL_SOCKET_IFNAME="ib0")), "error", "NCCL_SOCKET_IFNAME=ib0 on a node with eth0 only"),
    ("V4D706", lambda: two(network=_env(GLOO_SOCKET_IFNAME="ens121f0")), "error", "GLOO_SOCKET_IFNAME names a missing interface"),
    ("V4D706", lambda: two(network=_env(VLLM_HOST_IP="10.0.0.99")), "error", "VLLM_HOST_IP is not the node's address"),
    ("V4D706", lambda: two(network=_env(NCCL_SOCKET_IFNAME="eth", GLOO_SOCKET_IFNAME="eth0", VLLM_HOST_IP="10.0.0.11")), "ok",
     "prefix eth matches eth0; Gloo's exact name and the host IP exist"),
    ("V4D706", lambda: two(network=_env(NCCL_SOCKET_IFNAME="^lo,docker")), "ok", "an exclusion list that leaves eth0"),
    ("V4D707", lambda: two(facts=_shm(64 * 2**20)), "error", "Docker's 64 MiB /dev/shm on the worker"),
    ("V4D707", lambda: two(), "ok", "/dev/shm large enough on both"),
    ("V4D708", lambda: fleet(node(0, facts=_gpus(0), resources={"CPU": 16.0}), node(1), node(2)), "error", "a CPU-only head with the Ray backend"),
    ("V4D708", lambda: two(), "info", "the head's 8 GPUs count in the plan"),
    ("V4D708", lambda: fleet(node(0), node(1), cmd="vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8 --nnodes 2 --node-rank 0 --master-addr 10.0.0.10"),
     "ok", "the mp backend starts ranks on each node itself"),
]
