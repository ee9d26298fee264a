"""When nothing fits: the smallest hardware (least total GPU memory) on which the search finds a plan."""

from __future__ import annotations

from dataclasses import replace

from v4doctor.knowledge.kb import KnowledgeBase
from v4doctor.planner.goal import Goal
from v4doctor.planner.host import GIB, Host

# GPUs the knowledge base marks upstream for vLLM and SGLang or vLLM, most common first.
GROW_GPUS = ("H100-80GB", "H200", "B200", "B300", "RTX-PRO-6000")
COUNTS = (1, 2, 4, 8)


def smallest_hardware(host: Host, goal: Goal, kb: KnowledgeBase) -> str:
    """Try hosts in order of total GPU memory (this host's RAM and driver kept, disk left aside); the first with a plan
    that `run` passes wins; with another GPU type first, the first of this host's GPU type is named too."""
    from v4doctor.planner.host import host_of, hypothetical
    from v4doctor.planner.select import choose, search_all

    trial_goal = replace(goal, top=1, ignore=tuple(goal.ignore) + ("disk",))
    found = []
    for _, n, rec in _options(host, kb):
        if found and rec["key"] != host.gpu_key:
            continue  # after a hit, only this host's GPU type can still add something
        facts = hypothetical(f"{n}x{rec['key']}", kb, ram_gib=host.ram_bytes / GIB if host.ram_bytes else None, driver=host.driver)
        trial = host_of(facts, kb)
        candidates, _ = search_all(trial, trial_goal, kb)
        plans = choose(candidates, [], facts, trial, trial_goal, kb, suggest=False)[0] if candidates else []
        if plans:
            found.append(f"{n}× {rec['name']} would run {plans[0].model}{f' {plans[0].quant}' if plans[0].quant else ''} on "
                         f"{plans[0].engine} ({n * trial.mem_gib:.0f} GiB of GPU memory in all)")
            if rec["key"] == host.gpu_key:
                break
    if not found:
        return "no GPU count up to 8 of the GPUs v4doctor knows runs this goal; lower --context or --concurrency"
    return "; or ".join(reversed(found) if len(found) > 1 else found)


def _options(host: Host, kb: KnowledgeBase) -> list[tuple[float, int, dict]]:
    out = []
    for key in dict.fromkeys(([host.gpu_key] if host.gpu_key else []) + list(GROW_GPUS)):
        rec = next(g for g in kb.records("gpu") if g["key"] == key)
        mem = (rec.get("memory_bytes_nvml") or rec["memory_gib"] * GIB) / GIB
        out += [(n * mem, n, rec) for n in COUNTS if not (key == host.gpu_key and n <= host.count)]
    return sorted(out, key=lambda o: (o[0], o[1]))
