"""`run --ray` / `snapshot --ray` against a REAL local Ray cluster (tests/fleet_cluster.py): three raylets on
127.0.0.1. Two nodes replay fixtures/hosts/8xh100-80g.json through V4DOCTOR_FACTS, one replays the same host
with another driver and vLLM (the odd node). The last test adds a fourth node that replays a FIFO nobody
writes (a node that never answers) and removes it. The cluster is started once for the module and shut down
at its end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fleet_cluster  # sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 before Ray is imported in this process

pytest.importorskip("ray", reason="the fleet tests need Ray: pip install -e '.[test,ray]' (.ci/run does)")

PLAN = "vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8 -pp 2 --distributed-executor-backend ray --max-model-len 65536"
TIMEOUT = "90"  # nodes answer in a few seconds; a loaded CI machine starts Ray workers slowly
HANG_TIMEOUT = "8"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    files = fleet_cluster.snapshot_files(tmp_path_factory.mktemp("fleet"))
    envs = [{"V4DOCTOR_FACTS": str(files[k])} for k in ("base", "base", "odd")]
    c, ids, _ = fleet_cluster.start(envs, num_gpus=8)
    yield {"cluster": c, "address": c.address, "head": ids[0], "odd": ids[2], "ids": ids, "files": files}
    c.shutdown()


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, **fleet_cluster.LOOPBACK_ENV, HF_HUB_OFFLINE="1", NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "v4doctor", *args], capture_output=True, text=True, env=env, timeout=240)


def _about(findings, check_id):
    return [f for f in findings if f["id"] == check_id and f["severity"] in ("error", "warning")]


def test_run_ray_finds_every_node_and_names_the_odd_one(cluster):
    r = _cli("run", "--ray", cluster["address"], "--ray-timeout", TIMEOUT, "--cmd", PLAN, "--json")
    assert r.returncode == 1, r.stderr
    data = json.loads(r.stdout)
    assert set(data) >= {"schema_version", "cluster", "nodes", "findings", "summary"}
    assert {n["node_id"] for n in data["nodes"]} == set(cluster["ids"])
    assert data["cluster"]["address"] == cluster["address"] and data["cluster"]["ray_version"]
    by_id = {n["node_id"]: n for n in data["nodes"]}
    assert by_id[cluster["head"]]["is_head"] and by_id[cluster["odd"]]["facts"]["gpu"]["driver_version"] == "570.86.15"
    assert by_id[cluster["head"]]["gpus"] == 8 and by_id[cluster["head"]]["findings"]
    mismatches = _about(data["findings"], "V4D702")
    assert {f["severity"] for f in mismatches} == {"error", "warning"}  # vLLM 0.26.0 (error), the driver (warning)
    for f in mismatches:
        assert len(f["nodes"]) == 1 and cluster["odd"][:8] in f["nodes"][0], f
    assert not _about(data["findings"], "V4D701"), "every node answered"
    assert len(data["summary"]["nodes_named"]) == 1 and cluster["odd"][:8] in data["summary"]["nodes_named"][0]
    assert all(n["elapsed_s"] < float(TIMEOUT) for n in data["nodes"])


def test_run_ray_text_names_the_odd_node_in_process(cluster, capsys):
    from v4doctor.cli import main

    code = main(["run", "--ray", cluster["address"], "--ray-timeout", TIMEOUT, "--cmd", PLAN, "--no-color"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"vllm differs between nodes: 127.0.0.1 ({cluster['odd'][:8]}) has 0.26.0; the others have 0.33.0" in out
    assert out.count("  node 127.0.0.1 (") == 3 and "Nodes to look at:" in out
    assert "V4D210" not in out, "the whole checkpoint vs one node's GPUs is not a finding in a two-stage plan"
    assert f"[✗] On the nodes" in out and f"nodes: 127.0.0.1 ({cluster['odd'][:8]})" in out  # V4D306 on the odd node only


def test_snapshot_ray_is_judged_later_without_the_cluster(cluster, tmp_path):
    out = tmp_path / "fleet.json"
    r = _cli("snapshot", "--ray", cluster["address"], "--ray-timeout", TIMEOUT, "--cmd", PLAN, "-o", str(out))
    assert r.returncode == 0, r.stderr
    snap = json.loads(out.read_text())
    assert len(snap["nodes"]) == 3 and "target" not in snap
    again = _cli("run", "--facts", str(out), "--json")
    assert again.returncode == 1, again.stderr
    data = json.loads(again.stdout)
    assert {f["id"] for f in data["findings"] if f["severity"] == "error"} == {"V4D702"}
    assert any(cluster["odd"][:8] in n for n in data["summary"]["nodes_named"])


def test_without_ray_the_option_says_how_to_install_it(monkeypatch, capsys):
    from v4doctor.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as where it is not installed
    assert main(["run", "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'v4doctor[ray]'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ray_is_imported_only_for_ray():
    code = ("import sys; from v4doctor.cli import main; main(['run', '--facts', 'fixtures/hosts/8xh100-80g.json', '--json']);"
            "sys.stderr.write('RAY=%s' % ('ray' in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "RAY=False" in r.stderr, r.stderr[-500:]


def test_a_node_that_does_not_answer_is_reported_and_the_run_goes_on(cluster):
    """The fourth node's collector blocks opening a FIFO: the run waits HANG_TIMEOUT, names it, judges the others."""
    node = cluster["cluster"].add_node(**fleet_cluster.NODE_ARGS, env_vars={"V4DOCTOR_FACTS": str(cluster["files"]["hang"])})
    try:
        cluster["cluster"].wait_for_nodes()
        r = _cli("run", "--ray", cluster["address"], "--ray-timeout", HANG_TIMEOUT, "--cmd", PLAN, "--json")
    finally:
        cluster["cluster"].remove_node(node)
    data = json.loads(r.stdout)
    assert r.returncode == 1 and len(data["nodes"]) == 4
    silent = _about(data["findings"], "V4D701")
    assert len(silent) == 1 and node.node_id[:8] in silent[0]["nodes"][0]
    assert f"did not answer within {HANG_TIMEOUT} s" in silent[0]["detail"]
    assert any(cluster["odd"][:8] in f["nodes"][0] for f in _about(data["findings"], "V4D702")), "the other nodes were still judged"



@pytest.mark.parametrize("args,says", [
    (["--ray", "127.0.0.1:1"], "cannot connect to the Ray cluster at 127.0.0.1:1"),  # nothing listens on port 1
    (["--ray", "banana"], "give the head's host:port"),
    (["--ray", "auto", "--ray-timeout", "0"], "--ray-timeout 0.0"),
])
def test_bad_ray_input_is_one_line_and_exit_2(args, says, capsys):
    from v4doctor.cli import main

    assert main(["run", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_an_embedder_already_connected_keeps_its_connection(cluster):
    import ray

    from v4doctor import api

    ray.init(address=cluster["address"], logging_level="ERROR", log_to_driver=False)
    try:
        report = api.run_fleet(cluster["address"], cmd=PLAN, timeout_s=float(TIMEOUT))
        assert ray.is_initialized(), "run_fleet must not shut down a connection it did not open"
        assert len(report.fleet.answered) == 3 and report.exit_code() == 1
    finally:
        ray.shutdown()
