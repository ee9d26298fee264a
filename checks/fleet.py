"""Checks across the nodes of a Ray cluster (`v4doctor run --ray`): V4D701-V4D709.

Each takes `fleet` (v4doctor.facts.fleet.FleetFacts), which is NotApplicable outside a fleet
run, so these checks stay silent on one host. A finding names the node(s) it is about in
`nodes`; "odd" nodes are those whose value differs from the majority of the answered nodes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from v4doctor.judge.authoring import Finding, check, error, info, known, warning
from v4doctor.launch.plan import gpus_per_node, layout, nodes as plan_nodes

from ._host import GIB, gib

SHM_FLOOR = 1 * GIB  # as V4D120: Docker's 64 MiB default is too small for NCCL
RAM_SPREAD = 0.5  # a node with less than half the largest node's RAM is odd
VLLM_RAY_DOCS = "https://docs.vllm.ai/en/latest/serving/parallelism_scaling.html"
NCCL_ENV_DOCS = "https://docs.nvidia.com/deeplearning/nccl/user-guide/docs/env.html"


def _about(finding: Finding, nodes) -> Finding:
    finding.nodes = [n.label for n in nodes]
    return finding


def _odd(values: dict[Any, Any]) -> tuple[Any, list]:
    """(majority value, the nodes whose value differs): `values` maps node -> value."""
    if not values:
        return None, []
    common = Counter(values.values()).most_common(1)[0][0]
    return common, [n for n, v in values.items() if v != common]


def _facts_value(get: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A reader over a node's Facts that gives None when any step is Unknown."""
    def read(node):
        try:
            v = get(node.facts)
        except AttributeError:  # an Unknown area has no attributes
            return None
        return v if known(v) else None
    return read


# What must be the same on every node, how to read it, how bad a difference is, and why.
_VERSIONS: list[tuple[str, Callable[[Any], Any], str, str]] = [
    ("NVIDIA driver", _facts_value(lambda f: f.gpu.driver_version), "warning",
     "NCCL and the CUDA runtime run on each node's driver; another driver build changes what they do there."),
    ("CUDA the driver supports", _facts_value(lambda f: f.gpu.cuda_driver_version), "error",
     "The engine's CUDA build must run on every node's driver; a node with an older one fails to start its ranks."),
    ("Python", _facts_value(lambda f: f.python.version), "error",
     "Ray refuses a process whose Python differs from the cluster's down to the patch release, unless "
     "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL=minor (`Version mismatch: The cluster was started with`)."),
    ("torch", _facts_value(lambda f: f.python.packages.get("torch")), "error",
     "Every rank exchanges tensors with the others through torch.distributed; other torch releases do not interoperate."),
    ("torch's CUDA build", _facts_value(lambda f: f.python.torch_cuda), "error",
     "Ranks with different CUDA builds load different kernels and NCCL libraries."),
    ("vllm", _facts_value(lambda f: f.python.packages.get("vllm")), "error",
     "Each node runs the engine's workers: another release has other model code, flags and messages between ranks."),
    ("sglang", _facts_value(lambda f: f.python.packages.get("sglang")), "error",
     "Each node runs the engine's workers: another release has other model code, flags and messages between ranks."),
    ("transformers", _facts_value(lambda f: f.python.packages.get("transformers")), "warning",
     "Config and tokenizer loading differ between transformers releases; ranks may read the checkpoint differently."),
    ("NCCL (nvidia-nccl wheel)", lambda n: n.nccl_version if known(n.nccl_version) else None, "error",
     "NCCL ranks of different versions hang or abort at the first collective between nodes."),
    ("Ray", lambda n: n.ray_version if known(n.ray_version) else None, "error",
     "Ray refuses a process with another Ray version (`Version mismatch: The cluster was started with`)."),
]


@check("V4D701", title="every Ray node answered", category="fleet", troubleshooting="multinode-mismatch",
       sources=["https://docs.ray.io/en/latest/ray-core/api/doc/ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy.html"])
def nodes_answered(fleet):
    """A node Ray lists as dead, or whose collector did not answer in time, cannot take ranks or was not checked."""
    dead = [n for n in fleet.nodes if not n.alive]
    silent = [n for n in fleet.nodes if n.alive and not known(n.facts)]
    out = []
    if dead:
        out.append(_about(warning(f"{len(dead)} of {len(fleet.nodes)} Ray node(s) are dead: {', '.join(n.label for n in dead)}",
                                  "Ray keeps dead nodes in its list; they hold no resources, so a plan that counted them lacks GPUs.",
                                  fix="Restart Ray on those nodes (`ray start --address=HEAD:6379`) or leave them out of the plan.",
                                  commands=["ray status"]), dead))
    if silent:
        why = "; ".join(f"{n.label}: {n.facts.reason}" for n in silent)
        out.append(_about(warning(f"{len(silent)} node(s) could not be checked", why,
                                  fix="Install v4doctor in the Python the Ray workers run on those nodes (the same environment as the engine), then rerun."),
                          silent))
    return out


@check("V4D702", title="same versions on every node", category="fleet", troubleshooting="multinode-mismatch",
       sources=["https://github.com/ray-project/ray/issues/44063", "https://github.com/ray-project/ray/blob/master/python/ray/_private/utils.py",
                "https://github.com/NVIDIA/nccl/issues/286", VLLM_RAY_DOCS])
def versions_match(fleet):
    """Driver, CUDA, Python, torch, engine, NCCL and Ray must match across nodes: ranks load each other's kernels and messages."""
    out = []
    for name, read, level, why in _VERSIONS:
        values = {n: read(n) for n in fleet.answered if read(n) is not None}
        common, odd = _odd(values)
        if not odd:
            continue
        make = error if level == "error" else warning
        seen = ", ".join(f"{n.label} has {values[n]}" for n in odd)
        out.append(_about(make(f"{name} differs between nodes: {seen}; the others have {common}",
                               why,
                               fix=f"Install the same {name} ({common}) on every node, or run every node from the same container image.",
                               evidence=[f"{n.label}: {values[n]}" for n in values]), odd))
    return out


@check("V4D703", title="Ray version satisfies the engine's pin", category="fleet", troubleshooting="multinode-mismatch",
       sources=["https://github.com/vllm-project/vllm/blob/main/requirements/cuda.txt"])
def ray_matches_engine(fleet, engine):
    """The engine's own metadata pins Ray (vLLM: `ray[cgraph]>=2.48.0`); a node outside the pin fails to start its workers."""
    from packaging.requirements import InvalidRequirement, Requirement

    bad = []
    for node in fleet.answered:
        pin = node.ray_pins.get(engine)
        if not pin or not known(node.ray_version):
            continue
        try:
            req = Requirement(pin)
        except InvalidRequirement:
            continue
        if req.name == "ray" and not req.specifier.contains(node.ray_version, prereleases=True):
            bad.append((node, pin))
    if not bad:
        return None
    return _about(error(f"Ray outside {engine}'s pin on {len(bad)} node(s): " + ", ".join(f"{n.label} has ray {n.ray_version}, {engine} needs {p}" for n, p in bad),
                        f"{engine} declares the Ray it was built against; Ray's compiled-graph API (pipeline parallel) changes between releases.",
                        fix=f"pip install '{bad[0][1]}' on those nodes (and restart Ray there)."), [n for n, _ in bad])


@check("V4D704", title="same checkpoint on every node", category="fleet", troubleshooting="multinode-mismatch",
       sources=["https://github.com/vllm-project/vllm/issues/13200", VLLM_RAY_DOCS])
def same_checkpoint(fleet):
    """Every node loads its shard of the weights from its own disk: the files must be there, and be the same files."""
    read = [n for n in fleet.answered if known(n.checkpoint)]
    missing = [n for n in read if not known(n.checkpoint.total_bytes)]
    have = [n for n in read if known(n.checkpoint.total_bytes)]
    out = []
    if missing and have:
        out.append(_about(error(f"the checkpoint is missing on {len(missing)} node(s): " + ", ".join(f"{n.label} ({n.checkpoint.path.reason if not known(n.checkpoint.path) else n.checkpoint.total_bytes.reason})" for n in missing),
                                f"{len(have)} node(s) hold it at {have[0].checkpoint.path}; each node's ranks read their layers from local disk.",
                                fix="Download the checkpoint on every node to the same path (or mount one shared path on all), then pass that path to the engine."),
                          missing))
    prints = {n: (n.checkpoint.total_bytes, n.checkpoint.shards, tuple(sorted((n.checkpoint.hashes or {}).items()))) for n in have}
    common, odd = _odd(prints)
    if odd:
        out.append(_about(error(f"the checkpoint differs on {len(odd)} node(s): " + ", ".join(f"{n.label} has {_describe(prints[n])}" for n in odd),
                                f"The others hold {_describe(common)}; ranks that load different weights or configs fail, or answer garbage.",
                                fix="Re-download the same revision on those nodes (`hf download REPO --revision REV`), or load from one shared path.",
                                evidence=[f"{n.label}: {n.checkpoint.path}" for n in have]), odd))
    return out


def _describe(fingerprint) -> str:
    total, shards, hashes = fingerprint
    files = ", ".join(f"{name} {digest[:12]}" for name, digest in hashes) or "no index/config files"
    size = gib(total) if isinstance(total, int) else "?"
    return f"{size} in {shards if isinstance(shards, int) else '?'} shard(s) ({files})"


@check("V4D705", title="GPUs per node x nodes cover the plan", category="fleet", troubleshooting="tp-size-mismatch",
       sources=[VLLM_RAY_DOCS, "https://github.com/vllm-project/vllm/issues/13909"])
def gpus_cover_plan(fleet, launch):
    """TP x PP x DP ranks need that many GPUs in the cluster; vLLM keeps TP inside a node, so each node needs TP GPUs.
    With the Ray backend the count is Ray's own GPU resource (what its placement group can take), not what NVML sees."""
    lay, world = layout(launch), plan_nodes(launch)["world"]
    ray = plan_nodes(launch)["backend"] == "ray"
    counts = {n: (int(n.resources.get("GPU", 0)) if ray else n.gpus) for n in fleet.alive}
    counts = {n: c for n, c in counts.items() if known(c)}
    total, what = sum(counts.values()), "GPUs Ray offers" if ray else "GPUs"
    out = []
    if world > total:
        out.append(error(f"the plan needs {world} GPUs (TP={lay['tp']} x PP={lay['pp']} x DP={lay['dp']}); the cluster has {total} {what} on {len(counts)} node(s)",
                         "The engine waits for a placement group it never gets (`Waiting for creating a placement group of specs ...`), then fails.",
                         fix="Add nodes, or shrink the layout to the GPUs the cluster has (`ray status` lists them).", commands=["ray status"],
                         evidence=[f"{n.label}: {c} GPU(s)" for n, c in counts.items()]))
    hidden = [n for n, c in counts.items() if ray and known(n.gpus) and c < n.gpus]
    if hidden:
        out.append(_about(warning("Ray offers fewer GPUs than the node has on " + ", ".join(f"{n.label} ({counts[n]} of {n.gpus})" for n in hidden),
                                  "Ray counts the GPUs it was started with (`ray start --num-gpus`, CUDA_VISIBLE_DEVICES at `ray start`); the rest are invisible to the placement group.",
                                  fix="Restart Ray on those nodes without --num-gpus (or with the full count) and with every GPU visible."), hidden))
    share = gpus_per_node(launch) or (lay["tp"] if launch.engine == "vllm" and lay["pp"] > 1 else None)
    short = [n for n, c in counts.items() if share and 0 < c < share]
    if short:
        out.append(_about(error(f"{len(short)} node(s) have fewer than the {share} GPUs each node gives the plan: " + ", ".join(f"{n.label} has {counts[n]}" for n in short),
                                "Each node hosts a whole TP group (or its --nnodes share); a smaller node cannot take one.",
                                fix=f"Use nodes with {share} GPUs, or a TP size of {min(counts[n] for n in short)}."), short))
    _, odd = _odd({n: c for n, c in counts.items() if c})
    if odd and not short:
        out.append(_about(warning("nodes have different GPU counts: " + ", ".join(f"{n.label} has {counts[n]}" for n in odd),
                                  "Ray fills the placement group from any node; uneven nodes leave GPUs idle or split a TP group across nodes.",
                                  fix="Use nodes with the same GPU count, or a TP size that divides each node's count."), odd))
    return out


@check("V4D706", title="NCCL/Gloo interface exists on each node", category="fleet", troubleshooting="multinode-network",
       sources=[NCCL_ENV_DOCS, "https://github.com/NVIDIA/nccl/issues/1837", "https://github.com/vllm-project/vllm/issues/12983"])
def network_interfaces(fleet):
    """NCCL_SOCKET_IFNAME / GLOO_SOCKET_IFNAME must name an interface of that node; VLLM_HOST_IP must be one of its addresses."""
    out = []
    for var in ("NCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME"):
        bad = [(n, n.network.env[var]) for n in _networked(fleet) if var in n.network.env
               and not _interface_matches(var, n.network.env[var], list(n.network.interfaces))]
        if bad:
            out.append(_about(error(f"{var} names no interface of {len(bad)} node(s): " + ", ".join(f"{n.label}: {var}={v}, has {', '.join(n.network.interfaces)}" for n, v in bad),
                                    "NCCL then fails with `Bootstrap : no socket interface found` (or picks none), and Gloo cannot create its group.",
                                    fix=f"Set {var} on each node to the interface that carries the node's address (`ip -br addr`)."), [n for n, _ in bad]))
    wrong_ip = [n for n in _networked(fleet) if "VLLM_HOST_IP" in n.network.env
                and n.network.env["VLLM_HOST_IP"] not in {a for addrs in n.network.interfaces.values() for a in addrs}]
    if wrong_ip:
        out.append(_about(error("VLLM_HOST_IP is not an address of " + ", ".join(f"{n.label} (VLLM_HOST_IP={n.network.env['VLLM_HOST_IP']})" for n in wrong_ip),
                                "vLLM matches each Ray worker to its node by this address; a wrong one leaves the placement group waiting.",
                                fix="Unset VLLM_HOST_IP, or set it on each node to that node's own address (the one `ray start --node-ip-address` uses)."), wrong_ip))
    return out


def _networked(fleet):
    return [n for n in fleet.answered if known(n.network) and known(n.network.interfaces)]


def _interface_matches(var: str, value: str, interfaces: list[str]) -> bool:
    """NCCL: comma-separated prefixes, `=` for exact names, `^` to exclude; Gloo: exact names."""
    value = value.strip()
    if var == "GLOO_SOCKET_IFNAME":
        return all(v.strip() in interfaces for v in value.split(",") if v.strip())
    if value.startswith("^"):
        excluded = [p.strip() for p in value[1:].lstrip("=").split(",") if p.strip()]
        return any(not any(i.startswith(p) for p in excluded) for i in interfaces)
    exact = value.startswith("=")
    wanted = [p.strip() for p in value.lstrip("=").split(",") if p.strip()]
    return any((i == p) if exact else i.startswith(p) for i in interfaces for p in wanted)


@check("V4D707", title="/dev/shm, RAM and disk on every node", category="fleet", troubleshooting="multinode-mismatch",
       sources=["https://github.com/NVIDIA/nccl/issues/290", "https://docs.vllm.ai/en/v0.8.3/deployment/docker.html"])
def node_resources(fleet):
    """A worker node with Docker's 64 MiB /dev/shm, far less RAM than the others, or no room for the weights fails on its own."""
    systems = {n: n.facts.system for n in fleet.answered if known(n.facts.system)}
    out = []
    small = [n for n, s in systems.items() if known(s.shm_bytes) and s.shm_bytes < SHM_FLOOR]
    if small:
        out.append(_about(error("/dev/shm is small on " + ", ".join(f"{n.label} ({gib(systems[n].shm_bytes)})" for n in small),
                                "NCCL and the engine's workers exchange data through /dev/shm; Docker's default of 64 MiB makes NCCL fail or hang.",
                                fix="Start those nodes' containers with --ipc=host (or --shm-size 16g)."), small))
    ram = {n: s.ram_total_bytes for n, s in systems.items() if known(s.ram_total_bytes)}
    low = [n for n, r in ram.items() if ram and r < RAM_SPREAD * max(ram.values())]
    if low:
        out.append(_about(warning("far less RAM on " + ", ".join(f"{n.label} ({gib(ram[n])})" for n in low) + f" than the largest node ({gib(max(ram.values()))})",
                                  "Loading reads shards through host memory; the smallest node sets the pace, or runs out."), low))
    need = max((n.checkpoint.total_bytes for n in fleet.answered if known(n.checkpoint) and known(n.checkpoint.total_bytes)), default=0)
    full = [(n, free) for n in fleet.answered if (free := _free_for_download(n)) is not None and free < need]
    if full:
        out.append(_about(error("no room for the checkpoint on " + ", ".join(f"{n.label} ({gib(free)} free)" for n, free in full),
                                f"The checkpoint ({gib(need)} on the other nodes) is missing there, and the disk of the Hugging Face cache is smaller.",
                                fix="Free space, or point HF_HOME to a larger disk on those nodes (or mount one shared path on all)."),
                          [n for n, _ in full]))
    return out


def _free_for_download(node) -> int | None:
    """Free bytes where a node lacking the checkpoint would download it (its HF cache disk); None when it has the checkpoint."""
    if not known(node.checkpoint) or known(node.checkpoint.total_bytes) or not known(node.facts.system):
        return None
    disks = [d for d in node.facts.system.disks if known(d.free_bytes)]
    return disks[-1].free_bytes if disks else None


@check("V4D708", title="the head node holds GPUs the plan counts", category="fleet", troubleshooting="tp-size-mismatch",
       sources=["https://github.com/vllm-project/vllm/issues/12983", "https://github.com/vllm-project/vllm/issues/6956"])
def head_has_gpus(fleet, launch):
    """vLLM's Ray executor puts rank 0 on the node where `vllm serve` runs: a GPU-less head fails at start-up."""
    head = fleet.head
    if launch.engine != "vllm" or plan_nodes(launch)["backend"] != "ray" or head is None or not known(head.gpus):
        return None
    if head.gpus == 0:
        return _about(error(f"the head node {head.label} has no GPU; vLLM's Ray backend needs one on the node it starts on",
                            "vLLM fails with `Ray does not allocate any GPUs on the driver node. Consider adjusting the Ray placement group or running the driver on a GPU node.`",
                            fix="Run `vllm serve` on a GPU node of the cluster (or give the head GPUs)."), [head])
    return _about(info(f"the head node {head.label} gives {head.gpus} GPU(s) to the plan",
                       "vLLM places rank 0 on the node it starts on; the head's GPUs count in TP x PP."), [head])
