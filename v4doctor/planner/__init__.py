"""`plan`: the inverse of `run`. Which checkpoint, engine, image, layout and flags to run on a host.

    result = plan(facts, Goal(model="flash", context=131072, concurrency=8))
    result.plans[0].command  -> "vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 8 ..."

The search (search.py) sizes every candidate with the fit model; the best are rendered (render.py)
and judged by `v4doctor.judge.doctor.judge` on the same host: a plan with an error-level finding is
rejected, so every plan printed passes `run`. Pure: facts in, result out.
"""

from __future__ import annotations

import dataclasses

from v4doctor.errors import UsageError
from v4doctor.facts import Facts
from v4doctor.knowledge.kb import KnowledgeBase, UnknownModelError, load
from v4doctor.planner.goal import Goal
from v4doctor.planner.host import Host, host_of, hypothetical
from v4doctor.planner.result import Plan, PlanResult
from v4doctor.planner.select import choose, search_all

__all__ = ["plan", "Goal", "Plan", "PlanResult", "Host", "hypothetical", "fleet_host"]

MAX_NODES = 64


def fleet_host(fleet) -> tuple[Facts, int]:
    """A fleet snapshot (`snapshot --ray`) as the planner's host: the facts of the answered GPU node with the fewest
    GPUs (every node must give a plan its share) and the number of answered GPU nodes (a CPU-only head is left out)."""
    from v4doctor.facts import known

    def count(node) -> int:
        return node.gpus if known(node.gpus) else 0

    gpu_nodes = [n for n in fleet.answered if count(n) > 0 and known(n.facts)]
    if not gpu_nodes:
        raise UsageError("the fleet snapshot has no answered node with GPUs")
    smallest = min(gpu_nodes, key=count)
    return smallest.facts, len(gpu_nodes)



def plan(facts: Facts, goal: Goal, kb: KnowledgeBase | None = None, nodes: int = 1) -> PlanResult:
    """Search, size, judge and rank the plans for `goal` on the host the facts describe (`nodes` such hosts)."""
    kb = kb or load()
    if goal.engine_version and goal.engine == "any" and not goal.image:
        raise UsageError("--engine-version needs --engine (which engine is it a version of?)")
    if not isinstance(nodes, int) or not 1 <= nodes <= MAX_NODES:
        raise UsageError(f"--nodes {nodes!r}: expected 1 to {MAX_NODES} nodes")
    host = dataclasses.replace(host_of(facts, kb), nodes=nodes)
    try:
        candidates, rejected = search_all(host, goal, kb)
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    plans, rejected, suggestion = choose(candidates, rejected, facts, host, goal, kb)
    return PlanResult(host=host, goal=goal, plans=plans, rejected=rejected, suggestion=suggestion)
