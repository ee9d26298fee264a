"""A real local Ray cluster for the fleet tests and bench/fleet_speed.py: several raylets on this machine.

Nodes listen on 127.0.0.1 only, with 80 MB object stores, one CPU each and no dashboard. Each node
can get its own environment (`env_vars`, inherited by its Ray workers), e.g. V4DOCTOR_FACTS=FILE so
the collectors on that node replay FILE instead of reading the machine. Ray turns an address of
127.0.0.1 into the machine's routable IP unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (ray_constants),
so that variable is set here and in every `v4doctor` subprocess the tests start.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # keep driver and nodes on 127.0.0.1
NODE_ARGS = dict(num_cpus=1, object_store_memory=80 * 2**20, node_ip_address="127.0.0.1")
HOSTS = Path(__file__).resolve().parent.parent / "fixtures" / "hosts"
os.environ.update(LOOPBACK_ENV)  # Ray reads it once, when it is first imported


def snapshot_files(tmp: Path) -> dict[str, Path]:
    """base: fixtures/hosts/8xh100-80g.json (driver 580.65.06, vLLM 0.33.0); odd: the same host with
    driver 570.86.15 and vLLM 0.26.0 (synthetic change of a recorded fixture); hang: a FIFO nobody
    writes, so a node replaying it never answers (a real blocking open, not a sleep in the product)."""
    base = json.loads((HOSTS / "8xh100-80g.json").read_text())
    odd = json.loads(json.dumps(base))
    odd["gpu"]["driver_version"] = "570.86.15"
    odd["python"]["packages"]["vllm"] = "0.26.0"
    files = {"base": tmp / "base.json", "odd": tmp / "odd.json", "hang": tmp / "hang.fifo"}
    files["base"].write_text(json.dumps(base))
    files["odd"].write_text(json.dumps(odd))
    os.mkfifo(files["hang"])
    return files


def start(node_envs: list[dict[str, str]], num_gpus: int = 0):
    """A Cluster whose head gets node_envs[0] and one more node per further entry; each node declares `num_gpus`
    GPU resources to Ray (a replayed 8-GPU host is offered as 8 GPUs, as `ray start` on it would).

    Returns (cluster, node ids in the order of node_envs, seconds to start)."""
    os.environ.update(LOOPBACK_ENV)
    from ray.cluster_utils import Cluster

    started = time.perf_counter()
    args = dict(NODE_ARGS, num_gpus=num_gpus)
    cluster = Cluster(initialize_head=True, head_node_args=dict(args, include_dashboard=False, env_vars=node_envs[0]))
    ids = [cluster.head_node.node_id] + [cluster.add_node(**args, env_vars=env).node_id for env in node_envs[1:]]
    cluster.wait_for_nodes()
    return cluster, ids, time.perf_counter() - started
