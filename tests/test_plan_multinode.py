"""`v4doctor plan --nodes N` and a fleet snapshot: plans over several nodes when one is too small, each node's
commands, the fit spread over the nodes, and every node's command passing `run` as `run --ray` judges a node."""

from __future__ import annotations

import dataclasses
import json
import shlex

import pytest

import check_cases  # noqa: F401  first: it folds check_cases_fleet's table in when it loads
from check_cases_fleet import fleet, node, smaller
from tests.conftest import run_cli as _run_cli
from tests.test_plan import _check_vllm
from v4doctor.errors import UsageError
from v4doctor.facts import TargetFacts
from v4doctor.fleet.report import WHOLE_HOST_CHECKS
from v4doctor.judge.doctor import judge
from v4doctor.knowledge.kb import load
from v4doctor.launch.fit import fit
from v4doctor.planner import Goal, hypothetical, plan

KB = load()
HOST = dict(ram_gib=2048, disk_gib=4000, driver="580.65.06")


def run_cli(*argv: str) -> tuple[int, str, str]:
    r = _run_cli(*argv)
    return r.code, r.out, r.err


def _facts(gpus: str):
    return hypothetical(gpus, KB, **HOST)


def _node_errors(facts, p, argv: list[str]) -> list[str]:
    """`run` on one node with that node's command, as `run --ray` judges each node (the whole-checkpoint check left out)."""
    target = TargetFacts(model=p.model, engine=p.engine, cmd=argv, engine_version=p.engine_version)
    report = judge(dataclasses.replace(facts, target=target), ignore=sorted(WHOLE_HOST_CHECKS))
    return [f"{f.id} {f.title}" for f in report.findings if f.severity.value == "error"]


def _serve(n: dict) -> list[str]:
    return [shlex.split(c) for c in n["commands"] if c.startswith(("vllm serve", "sglang serve"))]


def test_pro_on_two_8x_h100_nodes_is_a_plan_over_both_and_each_node_passes_run():
    facts = _facts("8xH100")
    one = plan(facts, Goal(model="pro", engine="vllm", top=5))
    assert not one.fits  # one 8x H100 node cannot hold Pro (805 GiB)
    result = plan(facts, Goal(model="pro", engine="vllm", top=5), nodes=2)
    assert result.fits and result.host.nodes == 2
    layouts = {(p.layout["tp"], p.layout["pp"], p.layout["ep"]) for p in result.plans}
    assert {(8, 2, False), (16, 1, True)} <= layouts  # TP in a node x PP over Ray; TP+EP over both (recipe multi_node_tep)
    for p in result.plans:
        assert p.layout["nodes"] == 2 and [n["node_rank"] for n in p.nodes] == [0, 1] and p.nodes[0]["role"] == "head"
        serves = [argv for n in p.nodes for argv in _serve(n)]
        assert serves, p.nodes
        for argv in serves:
            assert _node_errors(facts, p, argv) == [], shlex.join(argv)
            _check_vllm(shlex.join(argv))  # vLLM 0.33.0's flag set
        if p.layout["pp"] == 2:  # Ray: ray start on each node, the engine on the head only
            assert p.nodes[0]["commands"][1] == "ray start --head --port=6379" and "--distributed-executor-backend ray" in p.command
            assert p.nodes[1]["commands"][1].startswith("ray start --address=$HEAD_IP:6379") and not _serve(p.nodes[1])
        else:  # mp backend: the same command on every node but the rank; followers headless
            head, worker = (" ".join(_serve(n)[0]) for n in p.nodes)
            assert "--nnodes 2 --node-rank 0 --master-addr $HEAD_IP" in head and "--headless" not in head
            assert "--node-rank 1" in worker and "--headless" in worker
            for n in p.nodes:  # and as docker run lines, which run judges too
                assert _node_errors(facts, p, shlex.split(n["docker_run"])) == []
                assert "--network host" in n["docker_run"] and "NCCL_SOCKET_IFNAME=$IFACE_NAME" in n["docker_run"]


def test_the_fit_spreads_weights_over_the_nodes_and_kv_follows_the_layout():
    """PP halves the layers (weights and KV) per GPU; TP over 16 shards weights but every TP rank holds a full KV replica."""
    facts = _facts("8xH200")
    result = plan(facts, Goal(model="pro", engine="vllm", top=8), nodes=2)
    by = {(p.layout["tp"], p.layout["pp"], p.layout["nodes"]): p for p in result.plans}
    single, pp, tp16 = by[(8, 1, 1)], by[(8, 2, 2)], by[(16, 1, 2)]
    assert pp.weights_gib_per_gpu == pytest.approx(single.weights_gib_per_gpu / 2, rel=1e-6)
    assert tp16.weights_gib_per_gpu == pytest.approx(single.weights_gib_per_gpu / 2, rel=1e-6)
    assert pp.kv_tokens > 2 * single.kv_tokens  # half the layers per GPU and twice the free memory per layer
    assert single.kv_tokens < tp16.kv_tokens < pp.kv_tokens  # TP 16 replicates the KV on every rank
    pro = KB.model("pro")
    want = fit(pro, gpus=16, gpu_mem_gib=result.host.mem_gib, engine="vllm", tp=8, pp=2, fraction=0.92,
               max_model_len=pp.max_model_len, engine_version="0.33.0", gpu_name=result.host.gpu_name)
    assert want.kv_tokens == pp.kv_tokens and want.weights_gib_per_gpu == pytest.approx(pp.weights_gib_per_gpu)


def test_when_one_node_suffices_the_single_node_plan_ranks_first():
    for prefer in ("context", "concurrency", "latency"):
        result = plan(_facts("8xH200"), Goal(model="pro", engine="vllm", prefer=prefer, top=8), nodes=2)
        assert result.plans[0].layout["nodes"] == 1, prefer
        over = [p for p in result.plans if p.layout["nodes"] == 2]
        assert over and all("node" in p.why[0] or "below #1" in p.why[0] for p in over)


def test_sglang_over_two_nodes_gives_each_rank_its_command():
    facts = _facts("8xH200")
    result = plan(facts, Goal(model="pro", engine="sglang", top=8), nodes=2)
    over = [p for p in result.plans if p.layout["nodes"] == 2]
    assert over, result.to_text()
    for p in over:
        assert p.layout["tp"] == 16
        for n in p.nodes:
            (argv,) = _serve(n)
            text = " ".join(argv)
            assert f"--nnodes 2 --node-rank {n['node_rank']} --dist-init-addr $HEAD_IP:20000" in text
            assert _node_errors(facts, p, argv) == [] and _node_errors(facts, p, shlex.split(n["docker_run"])) == []


def test_json_layout_has_nodes_and_each_nodes_commands():
    code, out, err = run_cli("plan", "--gpus", "8xH100", "--nodes", "2", "--model", "pro", "--engine", "vllm", "--ram-gib", "2048",
                             "--disk-gib", "4000", "--driver", "580.65.06", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["host"]["nodes"] == 2
    top = data["plans"][0]
    assert top["layout"]["nodes"] == 2 and len(top["nodes"]) == 2
    assert set(top["nodes"][0]) == {"node_rank", "role", "commands", "docker_run"}
    code, out, _ = run_cli("plan", "--gpus", "8xH100", "--model", "pro", "--engine", "vllm", "--json")
    assert json.loads(out)["plans"] == [] and code == 1  # one node: nothing fits
    code, out, _ = run_cli("plan", "--gpus", "8xH200", "--model", "flash", "--engine", "vllm", "--json")
    assert all(p["layout"]["nodes"] == 1 and p["nodes"] is None for p in json.loads(out)["plans"])


@pytest.mark.parametrize("nodes", ["0", "65", "x"])
def test_bad_node_count_is_a_usage_error(nodes):
    code, out, err = run_cli("plan", "--gpus", "8xH100", "--nodes", nodes)
    assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0


def test_a_fleet_snapshot_plans_over_its_gpu_nodes(tmp_path):
    """`snapshot --ray`'s document given with --facts: the answered GPU nodes, the smallest one's GPUs each."""
    from v4doctor.facts.fleet import fleet_to_json

    _, f = fleet(node(0), node(1))
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet_to_json(f)))
    code, out, err = run_cli("plan", "--facts", str(path), "--model", "pro", "--engine", "vllm", "--ignore", "disk", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["host"]["nodes"] == 2 and data["host"]["gpus"] == 8 and data["plans"][0]["layout"]["nodes"] == 2
    _, f = fleet(node(0), smaller(1, 4))  # one node with 4 GPUs: every node gives 4
    path.write_text(json.dumps(fleet_to_json(f)))
    code, out, err = run_cli("plan", "--facts", str(path), "--model", "pro", "--engine", "vllm", "--ignore", "disk", "--json")
    assert json.loads(out)["host"]["gpus"] == 4
    code, _, err = run_cli("plan", "--facts", str(path), "--nodes", "2")
    assert code == 2 and "fleet snapshot" in err
    with pytest.raises(UsageError):
        plan(_facts("8xH100"), Goal(), nodes=0)


def test_multinode_dep_is_the_recipes_and_each_node_passes_run():
    """vLLM recipe multi_node_dep on 2 x 8 H200 (the Pro recipe recommends DP+EP on H200, one node or several)."""
    from tests.test_plan_recipes import vllm_multinode_recipe
    from v4doctor.launch import parse_text
    from v4doctor.launch.plan import nodes as plan_nodes

    facts = _facts("8xH200")
    result = plan(facts, Goal(model="pro", engine="vllm", prefer="concurrency", context=131072, top=8), nodes=2)
    (dep,) = [p for p in result.plans if p.layout == {"tp": 1, "dp": 16, "pp": 1, "ep": True, "nodes": 2}]
    assert dep.max_concurrency > 10 * result.plans[0].max_concurrency  # a KV pool per GPU
    assert result.plans[0].layout["nodes"] == 1  # one node meets the goal (1 request): it ranks first
    busy = plan(facts, Goal(model="pro", engine="vllm", prefer="concurrency", context=131072, concurrency=32), nodes=2)
    assert busy.plans[0].layout == dep.layout  # 32 requests: one node no longer suffices
    keys = ("enable-expert-parallel", "data-parallel-hybrid-lb", "data-parallel-size", "data-parallel-size-local",
            "data-parallel-address", "data-parallel-start-rank")
    for n in dep.nodes:
        (argv,) = _serve(n)
        ours, theirs = parse_text(" ".join(argv)), parse_text(vllm_multinode_recipe("Pro", "multi_node_dep", "hopper", 8, 2, n["node_rank"]))
        assert {k: ours.flag(k) for k in keys} == {k: theirs.flag(k) for k in keys}
        assert plan_nodes(ours)["nnodes"] == 2 and plan_nodes(ours)["node_rank"] == n["node_rank"]  # run reads the DP form as 2 nodes
        assert _node_errors(facts, dep, argv) == [] and _node_errors(facts, dep, shlex.split(n["docker_run"])) == []
        _check_vllm(shlex.join(argv))


def test_vllm_033_parser_accepts_every_node_command():
    """Each node's `vllm serve` line through vLLM 0.33.0's own parser (tests/vllm_parser_probe.py in a separate
    environment named by V4DOCTOR_VLLM_PYTHON, as tests/test_plan_vllm_parser.py; skipped without it)."""
    import os
    import subprocess
    from pathlib import Path

    python = os.environ.get("V4DOCTOR_VLLM_PYTHON")
    if not python or not Path(python).exists():
        pytest.skip("V4DOCTOR_VLLM_PYTHON (a python with vllm==0.33.0) not set")
    commands = set()
    for gpus in ("8xH100", "8xH200", "8xB200"):
        for prefer in ("context", "concurrency", "latency"):
            result = plan(_facts(gpus), Goal(model="pro", engine="vllm", prefer=prefer, top=8), nodes=2)
            commands |= {shlex.join(argv) for p in result.plans for n in p.nodes or [] for argv in _serve(n)}
    assert len(commands) >= 6
    probe = Path(__file__).with_name("vllm_parser_probe.py")
    done = subprocess.run([python, str(probe)], input=json.dumps(sorted(commands)), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["vllm"].startswith("0.33.0") and len(report["results"]) == len(commands)
    assert not [r for r in report["results"] if not r["ok"]]


def test_plan_from_a_real_ray_clusters_snapshot(tmp_path):
    """A REAL local Ray cluster (tests/fleet_cluster.py: two raylets on 127.0.0.1, each replaying the recorded
    fixtures/hosts/8xh100-80g.json through V4DOCTOR_FACTS): `snapshot --ray` writes the fleet document, `plan --facts`
    reads it as two 8x H100 nodes and plans Pro over both."""
    pytest.importorskip("ray")
    import os
    import subprocess
    import sys

    import fleet_cluster

    files = fleet_cluster.snapshot_files(tmp_path)
    cluster, ids, _ = fleet_cluster.start([{"V4DOCTOR_FACTS": str(files["base"])}] * 2, num_gpus=8)
    out = tmp_path / "fleet.json"
    try:
        env = dict(os.environ, **fleet_cluster.LOOPBACK_ENV, HF_HUB_OFFLINE="1", NO_COLOR="1")
        r = subprocess.run([sys.executable, "-m", "v4doctor", "snapshot", "--ray", cluster.address, "--ray-timeout", "90",
                            "--model", "pro", "-o", str(out)], capture_output=True, text=True, env=env, timeout=240)
    finally:
        cluster.shutdown()
    assert r.returncode == 0, r.stderr
    assert {n["node_id"] for n in json.loads(out.read_text())["nodes"]} == set(ids)
    code, text, err = run_cli("plan", "--facts", str(out), "--model", "pro", "--engine", "vllm", "--ignore", "disk", "--json")
    assert code == 0, err
    data = json.loads(text)
    assert data["host"]["nodes"] == 2 and data["host"]["gpus"] == 8 and "H100" in data["host"]["gpu"]
    assert all(p["layout"]["nodes"] == 2 and len(p["nodes"]) == 2 for p in data["plans"])
