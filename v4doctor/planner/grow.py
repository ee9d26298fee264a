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
    from v4doctor.planner.select import search_all

    options = []
    for key in dict.fromkeys(([host.gpu_key] if host.gpu_key else []) + list(GROW_GPUS)):
        rec = next(g for g in kb.records("gpu") if g["key"] == key)
        mem = (rec.get("memory_bytes_nvml") or rec["memory_gib"] * GIB) / GIB
        fam = next((f for f in kb.records("gpu_family") if f["key"] == rec["family"]), None)
        for n in COUNTS:
            if key == host.gpu_key and n <= host.count:
                continue
            options.append((n * mem, n, rec, replace(host, count=n, gpu_name=rec["name"], gpu_key=key, mem_gib=mem, family=fam,
                                                     free_fraction=None)))
    for _, n, rec, trial in sorted(options, key=lambda o: (o[0], o[1])):
        found, _ = search_all(trial, goal, kb)
        if found:
            best = found[0][0]
            return f"{n}× {rec['name']} would run {best.name} ({n * trial.mem_gib:.0f} GiB of GPU memory in all)"
    return "no GPU count up to 8 of the GPUs v4doctor knows runs this goal; lower --context or --concurrency"
