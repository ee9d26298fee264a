"""Search every candidate, rank by the preference, judge the best with `run`'s checks, keep the top K."""

from __future__ import annotations

import dataclasses
from typing import Any

from v4doctor.facts import Facts, TargetFacts
from v4doctor.knowledge import images
from v4doctor.knowledge.kb import KnowledgeBase
from v4doctor.planner import multinode, render
from v4doctor.planner.goal import Goal
from v4doctor.planner.host import Host
from v4doctor.planner.result import Plan
from v4doctor.planner.search import (ENGINE_NAMES, Candidate, checkpoints, fraction_for, gguf_quants, layouts, newest, size,
                                     spec_for, tier, vllm_indexer, with_layout)
from v4doctor.planner.llamacpp import size_gguf

MAX_JUDGED = 40  # candidates judged before giving up (each judge is ~1-2 ms)
LAYOUT_ORDER = {"context": ("tep", "tp", "dep", "dpa", "mtep", "mtp", "mdep", "mdpa", "mpp"),
                "concurrency": ("dep", "dpa", "tep", "tp", "mdep", "mdpa", "mtep", "mtp", "mpp"),
                "latency": ("tp", "tep", "dep", "dpa", "mtp", "mtep", "mdep", "mdpa", "mpp")}


def engines_for(model: dict[str, Any], goal: Goal) -> list[str]:
    """The engines a checkpoint is made for: GGUF on llama.cpp, SGLang's FP8 re-quants on SGLang, other re-quants on vLLM."""
    names = ["llamacpp"] if model.get("format") == "gguf" else ["vllm", "sglang"]
    if model.get("third_party") and model.get("format") != "gguf":
        names = ["sglang"] if model["repo"].startswith("sgl-project/") else ["vllm"]
    if model.get("family") == "v4.1":
        names = ["vllm"]  # SGLang 0.5.20 and llama.cpp have no DeepseekV41ForCausalLM (engines.toml)
    return [e for e in names if goal.engine in ("any", e)]


def support(engine: str, host: Host) -> str | None:
    """Why the engine cannot run on these GPUs (the knowledge base's per-family verdict), or None."""
    if host.count == 0:
        return None if engine == "llamacpp" else "no GPU on this host"
    fam = host.family
    if fam is None:
        return f"GPU {host.gpu_name} is not in the knowledge base"
    if fam["key"].startswith("cdna"):  # ROCm: the recipes use other images, env and flags (vllm/vllm-openai-rocm, AITER)
        return (f"{fam['name']}: plans are rendered for NVIDIA (CUDA images, --gpus); the vLLM recipe's AMD path "
                "(vllm/vllm-openai-rocm:nightly, VLLM_ROCM_USE_AITER=1) is not planned")
    verdict = fam.get(engine, "never")
    if verdict in ("upstream", "preview"):
        return None
    return f"no {fam['sm']} kernels upstream ({fam['name']}: {verdict}); {fam.get('note', '').split('.')[0]}"


def version_image(engine: str, host: Host, goal: Goal) -> tuple[str, str]:
    """The engine version and image: what the operator has (--engine-version / --image), else the newest v4doctor knows."""
    mine = goal.image if goal.image and images.engine_of(goal.image) == engine else None
    version = (goal.engine_version if goal.engine == engine else None) or (
        images.tag_version(engine, images.split_image(mine)[1]) if mine else None) or newest(engine)
    if mine:
        return version, mine
    if engine == "vllm":
        cu129 = host.driver is not None and int(host.driver.split(".")[0]) < 580  # CUDA 13 builds need R580 (engines.toml)
        return version, f"vllm/vllm-openai:v{version}{'-cu129' if cu129 else ''}"
    if engine == "sglang":
        return version, "lmsysorg/sglang:latest"  # the cookbook's one image for every platform
    return version, "ghcr.io/ggml-org/llama.cpp:server-cuda" if host.count else "ghcr.io/ggml-org/llama.cpp:server"


def search_all(host: Host, goal: Goal, kb: KnowledgeBase) -> tuple[list[tuple[Candidate, str]], list[dict[str, str]]]:
    """Every sized candidate (with its image) and, per checkpoint x engine that has none meeting the goal, why."""
    out, rejected, unsupported = [], [], {}
    for model in checkpoints(goal, kb):
        if model.get("expert_dtype") == "nvfp4" and not str((host.family or {}).get("key", "")).startswith("blackwell"):
            rejected.append({"what": model["name"], "why": "NVFP4 experts are for Blackwell GPUs (vLLM recipe nvfp4 variant)"})
            continue
        for engine in engines_for(model, goal):
            what = f"{model['name']} on {ENGINE_NAMES[engine]}"
            reason = support(engine, host)
            if reason:
                unsupported.setdefault(engine, reason)
                continue
            version, image = version_image(engine, host, goal)
            sized = _sized(model, engine, version, host, goal, kb)
            out += [(c, image) for c in sized if c.meets]
            if sized and not any(c.meets for c in sized):
                rejected.append({"what": what, "why": _shortfall(sized, host, goal)})
    return out, [{"what": f"{ENGINE_NAMES[e]} (every checkpoint)", "why": r} for e, r in unsupported.items()] + rejected


def _sized(model, engine, version, host, goal, kb) -> list[Candidate]:
    base = Candidate(model=model, engine=engine, version=version, layout="tp", gpus=host.count, why=[], offload=[],
                     fraction=fraction_for(engine, host), spec=spec_for(engine, model, host, goal))
    try:
        if engine == "llamacpp":
            return [size_gguf(dataclasses.replace(base, quant=q["name"], kv_format="f16", indexer="f16", fraction=None, why=[], offload=[]),
                              q, host, goal, kb) for q in gguf_quants(model)]
        base.indexer = vllm_indexer(version, host) if engine == "vllm" else "fp8"
        lays = layouts(engine, host.count, host, model) + multinode.layouts(engine, host.count, host.nodes, host, model)
        lays = [lay for lay in lays if not (lay["layout"] in ("dpa", "mdpa") and goal.prefer == "latency")]
        return [size(with_layout(base, lay), host, goal, kb) for lay in lays]
    except ValueError as exc:  # no size or no KV layout in the knowledge base
        return [dataclasses.replace(base, why=[str(exc)])]


def _shortfall(sized: list[Candidate], host: Host, goal: Goal) -> str:
    """The nearest miss, in numbers."""
    best = max(sized, key=lambda c: (c.longest, c.concurrency))
    if best.why:
        return f"{best.why[0]} (best layout: {best.layout.upper()})"
    return (f"holds {best.longest:,} tokens for one request ({best.concurrency:.1f} requests at {best.max_model_len:,}); "
            f"the goal needs {goal.concurrency} request(s) at {goal.needed_context:,} tokens (best layout {best.layout.upper()})")


# --------------------------------------------------------------------------- rank and judge
def rank_key(c: Candidate, goal: Goal):
    order = LAYOUT_ORDER[goal.prefer]
    lay = -order.index(c.layout) if c.layout in order else -9
    t = tier(c, goal)
    # one node before several for the same checkpoint line: a plan over nodes ranks first only where one node is too small
    if goal.prefer == "concurrency":
        return (t[0], -c.nodes, round(c.concurrency, 1), t, lay)
    if goal.prefer == "latency":
        return (t[0], -c.nodes, -float(c.model.get("active_params_b", 0)), t, c.tp, lay, c.max_model_len)
    return (t, -c.nodes, c.max_model_len, int(c.concurrency), lay)


def choose(candidates, rejected, facts: Facts, host: Host, goal: Goal, kb: KnowledgeBase, suggest: bool = True):
    """Judge the best candidates in rank order; errors reject. Returns (plans, rejected, suggestion)."""
    from v4doctor.judge.doctor import judge

    ranked = sorted(candidates, key=lambda ci: rank_key(ci[0], goal), reverse=True)
    plans: list[Plan] = []
    blocked: dict[str, list[Any]] = {}
    for c, image in ranked[:MAX_JUDGED]:
        if len(plans) >= goal.top:
            break
        docker = render.docker_run(c, host, image)
        report, errors = _judge_forms(facts, c, host, image, docker, goal)
        if errors:
            for e in {e.id: e for e in errors}.values():
                blocked.setdefault(e.id, []).append(e)
            rejected.append({"what": f"{c.name}, {c.layout.upper()}", "why": f"{errors[0].id}: {errors[0].title}"})
            continue
        bare = [f for f in judge(judged_facts(facts, c, render.command(c, host)), (), goal.ignore).findings if f.severity.value == "error"]
        if multinode.ray_backend(c):  # the Ray plan's docker form is `bash -c "ray start ... && vllm serve ..."`: the bare command is the judged one
            bare = []
        plans.append(Plan.build(len(plans) + 1, c, host, image, docker, report, goal, bare))
    for p in plans[1:]:
        p.why.insert(0, _below(p, plans[0], goal))
    suggestion = None if plans or not suggest else _suggest(blocked, host, goal, kb)
    return plans, rejected, suggestion


def _judge_forms(facts: Facts, c: Candidate, host: Host, image: str, docker: list[str], goal: Goal):
    """`run` on the plan's forms: the docker run line and the compose file (one node), or each node's command over nodes
    (the head and the first follower, both in their docker run form; a Ray plan's engine command on the head)."""
    from v4doctor.judge.doctor import judge

    def errors_of(report):
        return [f for f in report.findings if f.severity.value == "error"]

    if c.nodes > 1:  # each node judged as `run --ray` judges it: without the whole-checkpoint-on-this-host check
        from v4doctor.fleet.report import WHOLE_HOST_CHECKS

        report, errors, ignore = None, [], (*goal.ignore, *sorted(WHOLE_HOST_CHECKS))
        for rank in multinode.judged_ranks(c):
            node = dataclasses.replace(c, node_rank=rank)
            argv = render.command(node, host) if multinode.ray_backend(c) else render.docker_run(node, host, image)
            r = judge(judged_facts(facts, node, argv), (), ignore)
            report = report or r
            errors += errors_of(r)
        return report, errors
    report = judge(judged_facts(facts, c, docker), (), goal.ignore)
    errors = errors_of(report)
    if not errors:  # the compose file carries the same command and image; judged too (a YAML parse costs ~8 ms)
        errors = errors_of(judge(judged_facts(facts, c, compose=render.compose(c, host, image)), (), goal.ignore))
    return report, errors


def _below(p: Plan, top: Plan, goal: Goal) -> str:
    """Why a plan ranks under the first, in the preference's own terms."""
    if p.engine == "llamacpp" and top.engine != "llamacpp":
        return "below #1: llama.cpp (GGUF) ranks after GPU engines that fit"
    if p.layout.get("nodes", 1) > top.layout.get("nodes", 1) and p.model == top.model:
        return f"below #1: {top.model} runs on {top.layout.get('nodes', 1)} node(s); a plan over more nodes ranks after it"
    if p.model != top.model:
        return f"below #1: {top.model} is preferred for this goal (the named checkpoint, Pro over Flash, official over re-quants)"
    if goal.prefer == "concurrency" and p.max_concurrency < top.max_concurrency:
        return f"below #1: fewer requests at {p.max_model_len:,} tokens ({p.max_concurrency:g} vs {top.max_concurrency:g})"
    if goal.prefer == "context" and p.max_model_len < top.max_model_len:
        return f"below #1: a shorter context ({p.max_model_len:,} vs {top.max_model_len:,})"
    if goal.prefer == "context" and p.max_concurrency < top.max_concurrency:
        return f"below #1: the same context, fewer requests ({p.max_concurrency:g} vs {top.max_concurrency:g})"
    return "below #1: the same goal met; #1's engine or layout comes first in the preference's order"


def judged_facts(facts: Facts, c: Candidate, argv: list[str] | None = None, compose: str | None = None) -> Facts:
    """The host's facts with the plan as the target, as `run --cmd` / `run --compose` would build them."""
    target = TargetFacts(model=c.model["repo"], engine=c.engine, engine_version=c.version)
    if argv is not None:
        target.cmd = list(argv)
    if compose is not None:
        target.compose_text = compose
    return dataclasses.replace(facts, target=target)


def _suggest(blocked: dict[str, Any], host: Host, goal: Goal, kb: KnowledgeBase) -> str:
    """The smallest change that would give a plan: fix what `run` reported, else the least GPU memory that fits."""
    if blocked:
        f = max(blocked.values(), key=len)[0]  # the check that blocked the most plans
        fix = f.fix.text if f.fix is not None else ""
        hint = " (or `--ignore disk` to plan as if the download had room)" if f.category == "disk" else ""
        return f"{f.id} blocks the plans that fit: {f.title}. {fix}{hint}".strip()
    if str((host.family or {}).get("key", "")).startswith("cdna"):
        return "plan renders NVIDIA deployments only; for AMD GPUs see the vLLM recipes' ROCm path (https://recipes.vllm.ai/deepseek-ai/DeepSeek-V4-Flash)"
    from v4doctor.planner.grow import smallest_hardware

    return smallest_hardware(host, goal, kb)


__all__ = ["search_all", "choose", "rank_key", "judged_facts"]
