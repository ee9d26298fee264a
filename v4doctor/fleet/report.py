"""Judge a fleet: every node with the usual checks, then the cluster with the fleet checks.

The fleet document (docs/fleet.md):

    {"schema_version", "target", "cluster": {"ray_version", "address", ...},
     "nodes": [{"node_id", "address", "gpus", "facts", "findings", ...}], "findings": [...], "summary"}

Fleet findings carry `nodes`, the node(s) they are about. Pure: no Ray, no I/O.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Iterable

from v4doctor.facts import Facts, TargetFacts, Unknown, facts_to_json, known, to_data
from v4doctor.facts.fleet import FLEET_SCHEMA_VERSION, FleetFacts, NodeFacts
from v4doctor.judge.context import Context
from v4doctor.judge.doctor import registry, target_summary
from v4doctor.judge.findings import Finding, Severity
from v4doctor.judge.registry import run_checks
from v4doctor.judge.report import Report


# Checks that hold the whole checkpoint against one host's GPUs: in a plan over several nodes each node holds
# only its share, which V4D302/V4D303 judge from the layout (TP x PP), so a fleet run leaves these out per node.
WHOLE_HOST_CHECKS = frozenset({"V4D210"})


@dataclass
class FleetReport:
    fleet: FleetFacts
    target: dict[str, Any]
    findings: list[Finding]  # across nodes
    node_reports: dict[str, Report] = field(default_factory=dict)  # node_id -> the usual report of that node

    @property
    def all_findings(self) -> list[Finding]:
        return self.findings + [f for r in self.node_reports.values() for f in r.findings]

    def summary(self) -> dict[str, Any]:
        """The counts over every node and across nodes (as `run`'s), the nodes, and those a problem across nodes names."""
        odd = sorted({n for f in self.findings if f.severity in (Severity.ERROR, Severity.WARNING) for n in f.nodes})
        return {**Report(self.target, self.all_findings).summary(), "nodes": len(self.fleet.nodes),
                "nodes_answered": len(self.fleet.answered), "nodes_named": odd}

    def exit_code(self, fail_on: str = "error") -> int:
        return Report(self.target, self.all_findings).exit_code(fail_on)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": FLEET_SCHEMA_VERSION,
            "target": self.target,
            "cluster": to_data(self.fleet.cluster),
            "nodes": [self._node(n) for n in self.fleet.nodes],
            "findings": [f.to_dict() for f in Report(self.target, self.findings).ordered()],
            "summary": self.summary(),
        }

    def _node(self, node: NodeFacts) -> dict[str, Any]:
        report = self.node_reports.get(node.node_id)
        return {
            "node_id": node.node_id, "address": node.address, "is_head": node.is_head, "alive": node.alive,
            "gpus": to_data(node.gpus), "resources": node.resources, "ray_version": to_data(node.ray_version),
            "nccl_version": to_data(node.nccl_version), "ray_pins": node.ray_pins, "elapsed_s": to_data(node.elapsed_s),
            "facts": facts_to_json(node.facts) if known(node.facts) else to_data(node.facts),
            "network": to_data(node.network), "checkpoint": to_data(node.checkpoint),
            "findings": [f.to_dict() for f in report.ordered()] if report else [],
            "summary": report.summary() if report else None,
        }


def judge_fleet(fleet: FleetFacts, target: TargetFacts, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> FleetReport:
    """Each answered node judged as `run` judges a host, then the fleet checks over all nodes."""
    select, ignore = list(select), list(ignore)
    reg = registry()
    per_node = [c for c in reg.checks if "fleet" not in c.params]
    across = [c for c in reg.checks if "fleet" in c.params]
    node_reports = {}
    for node in fleet.answered:
        facts = copy.copy(node.facts)
        facts.target = target
        ctx = Context(facts)
        checks = [c for c in per_node if c.id not in WHOLE_HOST_CHECKS] if _spans_nodes(ctx, node) else per_node
        node_reports[node.node_id] = Report(target=target_summary(ctx), findings=run_checks(ctx, checks, select, ignore))
    ctx = Context(_plan_facts(fleet, target), fleet=fleet)
    findings = list(reg.load_errors) + run_checks(ctx, across, select, ignore)
    return FleetReport(fleet=fleet, target=target_summary(ctx), findings=findings, node_reports=node_reports)


def _spans_nodes(ctx: Context, node: NodeFacts) -> bool:
    """The plan runs over several nodes (`--nnodes`, or Ray with more ranks than this node has GPUs)."""
    from v4doctor.launch.plan import spans_nodes

    launch = ctx.get("launch")
    return known(launch) and known(node.gpus) and spans_nodes(launch, node.gpus)


def _plan_facts(fleet: FleetFacts, target: TargetFacts) -> Facts:
    """The facts the plan is judged with: the head's (where `vllm serve` runs), else the first answered node's."""
    nodes = ([fleet.head] if fleet.head in fleet.answered else []) + fleet.answered
    if nodes:
        facts = copy.copy(nodes[0].facts)
        facts.target = target
        return facts
    return Facts(target=target, source="fleet", gpu=Unknown("no node answered"), system=Unknown("no node answered"),
                 python=Unknown("no node answered"), hub=Unknown("no node answered"))
