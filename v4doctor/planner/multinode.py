"""Plans over several nodes: layouts, the flags that tie the nodes together, and each node's commands.

    2 nodes x 8x H200, DeepSeek-V4-Pro on vLLM, layout mtep:
      node 0: vllm serve deepseek-ai/DeepSeek-V4-Pro --tensor-parallel-size 16 --enable-expert-parallel
              --nnodes 2 --node-rank 0 --master-addr $HEAD_IP ...
      node 1: the same with --node-rank 1 --headless

The shapes are the vendors': vLLM's recipe strategies multi_node_tep (TP over every GPU of every node
plus EP, the mp backend's --nnodes/--node-rank/--master-addr, --headless on followers) and
multi_node_tp_pp (TP inside a node, PP across nodes; here with the Ray backend, `ray start` on each
node and `vllm serve` on the head) and multi_node_dep (DP+EP over every GPU, each node serving its local DP ranks); SGLang's cookbook multi-node cells (TP over 16 ranks, the engine
adding --nnodes/--node-rank/--dist-init-addr). Sources: fixtures/recipes/vllm-strategy-multi_node_*.yaml,
fixtures/recipes/sglang-cookbook-deepseek-v4-cells.json. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

HEAD = "$HEAD_IP"  # the recipes' placeholder for the head node's address (vLLM: $HEAD_IP; SGLang: <node0-ip>)
IFACE = "$IFACE_NAME"  # the recipes' placeholder for the NIC NCCL and Gloo use between nodes
RAY_PORT = 6379
SGLANG_DIST_PORT = 20000  # docs.sglang.io multi_node.md: --dist-init-addr 172.16.4.52:20000
MULTI_LAYOUTS = ("mtep", "mpp", "mdep", "mtp", "mdpa")
# vllm-project/recipes strategies/multi_node_*.yaml `env`: the interface NCCL and Gloo use between nodes
SOCKET_ENV = {"GLOO_SOCKET_IFNAME": IFACE, "NCCL_SOCKET_IFNAME": IFACE}


def layouts(engine: str, per_node: int, nodes: int, host, model: dict[str, Any]) -> list[dict[str, Any]]:
    """Layouts over `nodes` nodes of `per_node` GPUs (a power of two is used on each node)."""
    g = 1 << (per_node.bit_length() - 1) if per_node else 0
    if nodes < 2 or g == 0:
        return []
    world = g * nodes
    common = dict(nodes=nodes, gpus=world)
    if engine == "vllm":
        return [dict(layout="mtep", tp=world, ep=True, **common),  # recipe multi_node_tep
                dict(layout="mpp", tp=g, pp=nodes, **common),  # recipe multi_node_tp_pp, Ray backend
                dict(layout="mdep", dp=world, ep=True, **common)]  # recipe multi_node_dep
    if engine == "sglang":
        # the cookbook's multi-2 cells set --mem-fraction-static (0.9 H100 Pro FP4 --tp 16; 0.88 H200 Pro FP8 --tp 16 --dp 16):
        # SGLang's own default (about 0.79 on an 80 GB GPU at TP 16) leaves Pro's TP-16 ranks no KV pool
        out = [dict(layout="mtp", tp=world, fraction=0.9, **common)]
        fam = (host.family or {}).get("key")
        if fam == "blackwell-dc" or model.get("expert_dtype") == "fp8":
            out.append(dict(layout="mdpa", tp=world, dp=world, fraction=0.88, **common))
    else:
        out = []
    return out


def vllm_args(c) -> list[str]:
    """The parallel flags of a vLLM plan over nodes (node c.node_rank's command)."""
    if c.layout == "mpp":
        return ["--tensor-parallel-size", str(c.tp), "--pipeline-parallel-size", str(c.pp), "--distributed-executor-backend", "ray"]
    if c.layout == "mdep":  # command-synthesis.js: every node serves; the follower's DP ranks start at rank x local
        local = c.dp // c.nodes
        out = ["--enable-expert-parallel", "--data-parallel-hybrid-lb", "--data-parallel-size", str(c.dp),
               "--data-parallel-size-local", str(local), "--data-parallel-address", HEAD]
        return out + (["--data-parallel-start-rank", str(c.node_rank * local)] if c.node_rank > 0 else [])
    out = ["--tensor-parallel-size", str(c.tp), "--enable-expert-parallel", "--nnodes", str(c.nodes), "--node-rank", str(c.node_rank),
           "--master-addr", HEAD]
    return out + (["--headless"] if c.node_rank > 0 else [])


def sglang_args(c) -> list[str]:
    """SGLang's rendezvous flags (docs.sglang.io multi-node deployment): the same on every node but the rank."""
    return ["--nnodes", str(c.nodes), "--node-rank", str(c.node_rank), "--dist-init-addr", f"{HEAD}:{SGLANG_DIST_PORT}"]


def ray_backend(c) -> bool:
    return c.layout == "mpp"


def judged_ranks(c) -> list[int]:
    """The node ranks whose command `run` judges: Ray plans start the engine on the head only; the others
    run one command per node that differs only in its rank, so the head and the first follower stand for all."""
    return [0] if ray_backend(c) else [0, 1]


def node_commands(c, host, image: str) -> list[dict[str, Any]]:
    """Each node's commands, in order: the environment, Ray's `ray start` where the backend is Ray, the engine."""
    from v4doctor.planner import render

    out = []
    env = " ".join(f"{k}={v}" for k, v in SOCKET_ENV.items())
    for rank in range(c.nodes):
        n = replace(c, node_rank=rank)
        role = "head" if rank == 0 else "worker"
        cmds = [f"export {env}"]
        if ray_backend(c):
            cmds.append(f"ray start --head --port={RAY_PORT}" if rank == 0 else f"ray start --address={HEAD}:{RAY_PORT} --block")
            if rank == 0:
                cmds.append(render.shell(render.command(n, host)))
            docker = render.shell(ray_docker(n, host, image))
        else:
            cmds.append(render.shell(render.command(n, host)))
            docker = render.shell(render.docker_run(n, host, image))
        out.append({"node_rank": rank, "role": role, "commands": cmds, "docker_run": docker})
    return out


def ray_docker(c, host, image: str) -> list[str]:
    """A Ray node in the image, host network (vLLM's examples/online_serving/run_cluster.sh starts Ray the same way):
    the head starts Ray and then the engine, a worker joins the head and blocks."""
    from v4doctor.planner import render

    out = ["docker", "run", "--gpus", "all", "--network", "host", "--ipc=host", "-v", render.HF_VOLUME]
    for k, v in {**SOCKET_ENV, **render.env(c)}.items():
        out += ["-e", f"{k}={v}"]
    if c.node_rank > 0:
        return [*out, "--entrypoint", "ray", image, "start", f"--address={HEAD}:{RAY_PORT}", "--block"]
    serve = render.shell(render.command(c, host))
    return [*out, "--entrypoint", "bash", image, "-c", f"ray start --head --port={RAY_PORT} && {serve}"]
