"""The parts of `run --ray` that need no cluster: the V4DOCTOR_FACTS replay, the node collectors (interfaces,
checkpoint fingerprint), what one node's task returns, multi-node launch plans, and the fleet document."""

from __future__ import annotations

import hashlib
import json
import shlex
import socket

import pytest

import check_cases  # noqa: F401  first: it folds check_cases_fleet's table in when it loads
from check_cases_fleet import PRO_2x8, fleet, node, two
from conftest import ROOT
from v4doctor.errors import UsageError
from v4doctor.facts import TargetFacts, Unknown, known, to_data

HOST = ROOT / "fixtures" / "hosts" / "8xh100-80g.json"


# --------------------------------------------------------------------------- replay (V4DOCTOR_FACTS)
def test_replay_returns_the_snapshot_for_the_planned_target(monkeypatch):
    from v4doctor import api

    monkeypatch.setenv("V4DOCTOR_FACTS", str(HOST))
    facts = api.host_facts(model="pro", engine="sglang")
    recorded = json.loads(HOST.read_text())
    assert facts.gpu.driver_version == recorded["gpu"]["driver_version"] and len(facts.gpu.devices) == 8
    assert (facts.target.model, facts.target.engine, facts.source) == ("pro", "sglang", "replay")


def test_replay_of_a_bad_file_is_a_usage_error(monkeypatch, tmp_path):
    from v4doctor.collect import gather

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("V4DOCTOR_FACTS", str(bad))
    with pytest.raises(UsageError, match="not valid JSON"):
        gather(TargetFacts(model="flash", engine="vllm"))


def test_without_the_variable_gather_reads_this_host(monkeypatch):
    from v4doctor.collect import gather

    monkeypatch.delenv("V4DOCTOR_FACTS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert gather(TargetFacts(model="flash", engine="vllm")).source == "host"


# --------------------------------------------------------------------------- node collectors
def test_network_lists_this_hosts_interfaces_and_the_nccl_variables():
    from v4doctor.collect.node import collect_network

    net = collect_network({"NCCL_SOCKET_IFNAME": "eth0", "HF_TOKEN": "hf_secret", "GLOO_SOCKET_IFNAME": "lo"})
    assert set(net.interfaces) == {name for _, name in socket.if_nameindex()}
    assert "127.0.0.1" in net.interfaces["lo"]
    assert net.env == {"NCCL_SOCKET_IFNAME": "eth0", "GLOO_SOCKET_IFNAME": "lo"}, "only the network variables, never a token"


def test_checkpoint_fingerprint_hashes_the_small_files(tmp_path):
    from v4doctor.collect.node import collect_checkpoint

    (tmp_path / "config.json").write_text('{"architectures": ["DeepseekV4ForCausalLM"]}')
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": {}}')
    for i in range(3):
        (tmp_path / f"model-0000{i}-of-00003.safetensors").write_bytes(b"\0" * 1000)
    ck = collect_checkpoint(str(tmp_path))
    assert ck.shards == 3 and ck.total_bytes == 3000 + sum(p.stat().st_size for p in tmp_path.glob("*.json"))
    assert ck.hashes["config.json"] == hashlib.sha256((tmp_path / "config.json").read_bytes()).hexdigest()
    assert set(ck.hashes) == {"config.json", "model.safetensors.index.json"} and known(ck.filesystem)


def test_checkpoint_missing_on_this_node_is_unknown_with_the_reason(tmp_path):
    from v4doctor.collect.node import checkpoint_dir, collect_checkpoint

    assert "not a directory on this node" in collect_checkpoint(str(tmp_path / "nope")).total_bytes.reason
    where = checkpoint_dir(TargetFacts(model="pro", engine="vllm"), str(tmp_path))
    assert isinstance(where, Unknown) and "deepseek-ai/DeepSeek-V4-Pro is not in the Hugging Face cache" in where.reason
    snap = tmp_path / "models--deepseek-ai--DeepSeek-V4-Pro" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    assert checkpoint_dir(TargetFacts(model="pro", engine="vllm"), str(tmp_path)) == str(snap)


def test_one_nodes_answer_is_plain_data_that_reads_back(monkeypatch):
    """What the Ray task returns on a node (run here without Ray): JSON-ready, typed again by the head."""
    from v4doctor.facts.fleet import NodeFacts
    from v4doctor.fleet.gather import _fill
    from v4doctor.fleet.node_task import collect_node

    monkeypatch.setenv("V4DOCTOR_FACTS", str(HOST))
    answer = collect_node(to_data(TargetFacts(model="pro", engine="vllm")), None)
    json.dumps(answer)  # plain data only
    n = NodeFacts(node_id="ab" * 28, address="10.0.0.1")
    _fill(n, answer)
    assert n.gpus == 8 and known(n.network) and n.facts.source == "replay" and n.elapsed_s >= 0
    broken = NodeFacts(node_id="cd" * 28, address="10.0.0.2")
    _fill(broken, {**answer, "facts": {"target": 1}})
    assert "not in this v4doctor's format" in broken.facts.reason


# --------------------------------------------------------------------------- multi-node launch plans
@pytest.mark.parametrize("cmd,want", [
    (PRO_2x8, {"backend": "ray", "nnodes": None, "world": 16}),
    ("python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Pro --tp 16 --nnodes 2 --node-rank 1 --dist-init-addr 10.0.0.1:5000",
     {"backend": "torch", "nnodes": 2, "node_rank": 1, "head": "10.0.0.1:5000", "world": 16}),
    ("vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8 -pp 2 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1",
     {"backend": "mp", "nnodes": 2, "node_rank": 0, "head": "10.0.0.1", "world": 16}),
    ("vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 4", {"backend": None, "nnodes": None, "world": 4}),
])
def test_multi_node_plans_parse(cmd, want):
    from v4doctor.launch import parse_text
    from v4doctor.launch.plan import nodes

    got = nodes(parse_text(cmd))
    assert {k: got[k] for k in want} == want


@pytest.mark.parametrize("cmd,gpus,severity", [
    (PRO_2x8, 8, "info"),  # Ray places the ranks: `run --ray` judges the cluster
    ("python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Pro --tp 16 --nnodes 2 --node-rank 0 --dist-init-addr 10.0.0.1:5000", 8, "ok"),
    ("python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Pro --tp 16 --nnodes 2 --node-rank 0 --dist-init-addr 10.0.0.1:5000", 4, "error"),
    ("vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 16", 8, "error"),  # one node, not enough GPUs: unchanged
])
def test_layout_check_judges_a_nodes_share(cmd, gpus, severity):
    from check_cases import host
    from v4doctor.judge.doctor import judge

    facts = host("8xh100-80g", model="pro")
    facts.gpu.devices = facts.gpu.devices[:gpus]
    facts.target.cmd = shlex.split(cmd)
    found = [f for f in judge(facts, select=["V4D304"]).findings if f.id == "V4D304"]
    assert min(found, key=lambda f: f.severity.rank).severity.value == severity


def test_pro_over_two_8xh100_nodes_fits_per_gpu():
    """The fit spreads Pro's weights over TP x PP = 16 GPUs of two nodes: no per-GPU weight error (V4D303)."""
    from check_cases import host
    from v4doctor.judge.doctor import judge

    facts = host("8xh100-80g", model="pro")
    facts.target.cmd = shlex.split(PRO_2x8)
    assert [f.severity.value for f in judge(facts, select=["V4D303"]).findings if f.id == "V4D303"] == ["ok"]
    facts.target.cmd = shlex.split(PRO_2x8.replace("-pp 2", "-pp 1"))
    assert "ok" not in [f.severity.value for f in judge(facts, select=["V4D303"]).findings if f.id == "V4D303"]


# --------------------------------------------------------------------------- the fleet document
def test_fleet_document_names_the_odd_node_and_round_trips():
    from v4doctor.facts.fleet import fleet_from_json, fleet_to_json
    from v4doctor.fleet import judge_fleet
    from v4doctor.output.render import to_json

    facts, f = two(ray_version="2.48.0")
    data = json.loads(to_json(judge_fleet(f, facts.target).to_dict()))
    assert set(data) == {"schema_version", "target", "cluster", "nodes", "findings", "summary"}
    assert {"node_id", "address", "gpus", "facts", "findings"} <= set(data["nodes"][0])
    ray = [x for x in data["findings"] if x["id"] == "V4D702"]
    assert ray and ray[0]["nodes"] == [f.nodes[1].label] and data["summary"]["nodes_named"] == [f.nodes[1].label]
    again = fleet_from_json(json.loads(json.dumps(fleet_to_json(f))))
    assert [n.ray_version for n in again.nodes] == ["2.60.0", "2.48.0"] and again.nodes[0].facts.gpu.driver_version


def test_fleet_terminal_lines_show_each_node_and_the_findings():
    from v4doctor.fleet import judge_fleet
    from v4doctor.output.fleet import fleet_lines

    facts, f = fleet(node(0), node(1), node(2, ray_version="2.48.0"))
    report = judge_fleet(f, facts.target)
    text = "\n".join(t for t, _ in fleet_lines(report.to_dict(), report.findings, {k: r.findings for k, r in report.node_reports.items()}))
    assert text.count("  node 10.0.0.") == 3
    assert "Ray differs between nodes: 10.0.0.12 (02ababab) has 2.48.0; the others have 2.60.0  [V4D702]" in text
    assert "Nodes to look at: 10.0.0.12 (02ababab)" in text


def _odd_ray_snapshot(tmp_path) -> str:
    """A fleet snapshot file of three nodes, the third with Ray 2.48.0, planned for PRO_2x8."""
    from v4doctor.facts.fleet import fleet_to_json
    from v4doctor.output.render import to_json

    facts, f = fleet(node(0), node(1), node(2, ray_version="2.48.0"))
    for n in f.nodes:
        n.facts.target.cmd = facts.target.cmd
    path = tmp_path / "fleet.json"
    path.write_text(to_json(fleet_to_json(f)))
    return str(path)


def test_fleet_markdown_has_a_node_table_and_names_the_nodes(tmp_path, capsys):
    """`run --facts FLEET.json --format markdown`: a fleet snapshot judged without Ray, pasted into a ticket."""
    from v4doctor.cli import main

    assert main(["run", "--facts", _odd_ray_snapshot(tmp_path), "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert "| 10.0.0.12 (02ababab) | 8 | 580.65.06 | vllm 0.33.0 | 2.48.0 | 0 | 0 |" in out
    assert "- **error** `V4D702` Ray differs between nodes: 10.0.0.12 (02ababab) has 2.48.0; the others have 2.60.0 (nodes: 10.0.0.12 (02ababab))" in out


def test_fleet_quiet_prints_only_errors_and_the_summary(tmp_path, capsys):
    from v4doctor.cli import main

    assert main(["run", "--facts", _odd_ray_snapshot(tmp_path), "-q", "--no-color"]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out[0].startswith("✗ Ray differs between nodes") and "V4D708" not in "\n".join(out)
    assert out[-1] == "1 error(s), 0 warning(s) on 3 of 3 node(s) checked. Not ready to deploy."
