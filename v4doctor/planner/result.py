"""Plans as data (the JSON of docs/json.md), as terminal text and as Markdown a support bot can post."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from v4doctor.planner.goal import Goal
from v4doctor.planner.host import Host

SCHEMA_VERSION = 1
LAYOUT_WHY = {
    "tep": "TP+EP over every GPU: the vLLM recipe's default layout (single_node_tep)",
    "tp": "tensor parallel over every GPU: the longest context per request (the KV cache is replicated on every rank)",
    "dep": "DP+EP: each GPU has its own KV pool, the most requests at once (the non-expert weights are replicated)",
    "dpa": "TP with DP attention (SGLang cookbook 'balanced'): a KV pool per GPU",
    "mtep": "TP+EP over every GPU of every node (vLLM recipe multi_node_tep): each GPU holds 1/TP of the weights and a full KV replica",
    "mpp": "TP inside each node, PP across nodes over Ray (vLLM recipe multi_node_tp_pp): only the stage boundaries cross the network; each stage holds its layers' KV",
    "mdep": "DP+EP over every GPU of every node (vLLM recipe multi_node_dep): a KV pool per GPU, the most requests; each node serves its own DP ranks (--data-parallel-hybrid-lb)",
    "mtp": "TP over every GPU of every node (SGLang cookbook multi-node cells): each GPU holds 1/TP of the weights and a full KV replica",
    "mdpa": "TP over every GPU of every node with DP attention (SGLang cookbook multi-node 'balanced'): a KV pool per GPU",
    "layers": "llama.cpp splits the layers over the GPUs; experts that do not fit stay in RAM",
}


@dataclass
class Plan:
    rank: int
    model: str
    engine: str
    engine_version: str
    image: str
    layout: dict[str, Any]
    max_model_len: int
    kv_cache_dtype: str
    kv_tokens: int
    max_concurrency: float
    weights_gib_per_gpu: float
    command: str | None  # None when the engine installed on this host fails `run` (the image is the way)
    docker_run: str
    compose: str
    why: list[str]
    quant: str | None = None
    speculative: str | None = None
    longest_context: int = 0
    warnings: list[str] = field(default_factory=list)
    nodes: list[dict[str, Any]] | None = None  # over several nodes: each node's commands (multinode.node_commands)

    @classmethod
    def build(cls, rank: int, c, host: Host, image: str, docker: list[str], report, goal: Goal, bare_errors=()) -> "Plan":
        from v4doctor.planner import multinode, render

        warnings = [f"{f.id}: {f.title}" for f in report.findings if f.severity.value == "warning"]
        why = [f"{c.concurrency:.1f} request(s) at {c.max_model_len:,} tokens fit the KV cache ({c.kv_tokens:,} tokens); "
               f"the goal is {goal.concurrency} at {f'{goal.context:,}' if goal.context else 'the longest'}", LAYOUT_WHY[c.layout], *c.why,
               f"`v4doctor run` on this host: no error{f', {len(warnings)} warning(s)' if warnings else ''}"]
        if c.spec:
            why.insert(2, f"speculative decoding ({c.spec}) for latency")
        if bare_errors:
            why.append(f"run it in the image: the engine installed on this host fails `run` ({bare_errors[0].id}: {bare_errors[0].title})")
        return cls(rank=rank, model=c.model["repo"], engine=c.engine, engine_version=c.version, image=image,
                   layout={"tp": c.tp, "dp": c.dp, "pp": c.pp, "ep": c.ep, "nodes": c.nodes}, max_model_len=c.max_model_len,
                   kv_cache_dtype=c.kv_format if c.indexer in (c.kv_format, "fp8", "f16") else f"{c.kv_format} (+{c.indexer} indexer)",
                   kv_tokens=c.kv_tokens, max_concurrency=round(c.concurrency, 2), weights_gib_per_gpu=round(c.weights_gib_per_gpu, 2),
                   command=None if bare_errors else render.shell(render.command(c, host)), docker_run=render.shell(docker), compose=render.compose(c, host, image),
                   why=why, quant=c.quant, speculative=c.spec, longest_context=c.longest, warnings=warnings,
                   nodes=multinode.node_commands(c, host, image) if c.nodes > 1 else None)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PlanResult:
    host: Host
    goal: Goal
    plans: list[Plan]
    rejected: list[dict[str, str]]
    suggestion: str | None = None

    @property
    def fits(self) -> bool:
        return bool(self.plans)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "host": self.host.to_dict(), "goal": self.goal.to_dict(),
                "plans": [p.to_dict() for p in self.plans], "rejected": list(self.rejected), "suggestion": self.suggestion}

    # ------------------------------------------------------------------ text
    def headline(self) -> str:
        h = self.host
        gpus = f"{h.count}× {h.gpu_name} ({h.gpu_mem_gib_text})" if h.count else "no GPU"
        gpus = f"{h.nodes} nodes × {gpus}" if h.nodes > 1 else gpus
        return f"v4doctor plan: {gpus}; goal: {self.goal.model}, {self.goal.concurrency} request(s) at {f'{self.goal.context:,} tokens' if self.goal.context else 'the longest context'}"

    def to_text(self, verbose: bool = False) -> str:
        lines = [self.headline(), ""]
        for p in self.plans:
            lines += _plan_lines(p, fence=False)
        if not self.plans:
            lines.append("Nothing fits this goal on this host.")
            lines.append(f"Smallest change: {self.suggestion}" if self.suggestion else "")
        lines += ["", f"Rejected ({len(self.rejected)}):"] + [f"  - {r['what']}: {r['why']}" for r in self.rejected[: None if verbose else 8]]
        if not verbose and len(self.rejected) > 8:
            lines.append(f"  … {len(self.rejected) - 8} more (-v)")
        return "\n".join(lines).rstrip() + "\n"

    def to_markdown(self) -> str:
        lines = [f"### {self.headline()}", ""]
        for p in self.plans:
            lines += _plan_lines(p, fence=True)
        if not self.plans:
            lines += ["**Nothing fits this goal on this host.**", "", f"Smallest change: {self.suggestion}" if self.suggestion else ""]
        if self.rejected:
            lines += ["", "<details><summary>Rejected</summary>", ""] + [f"- **{r['what']}**: {r['why']}" for r in self.rejected] + ["", "</details>"]
        return "\n".join(lines).rstrip() + "\n"


def _plan_lines(p: Plan, fence: bool) -> list[str]:
    lay = p.layout
    head = (f"{'#### ' if fence else ''}{p.rank}. {p.model}{f' ({p.quant})' if p.quant else ''} on {p.engine} {p.engine_version}: "
            f"TP={lay['tp']} DP={lay['dp']} PP={lay['pp']}{' +EP' if lay['ep'] else ''}"
            + (f" over {lay['nodes']} nodes" if lay.get("nodes", 1) > 1 else ""))
    facts = (f"max-model-len {p.max_model_len:,} · {p.max_concurrency:g} request(s) at that length · KV {p.kv_tokens:,} tokens · "
             f"longest one request {p.longest_context:,} · {p.weights_gib_per_gpu:.1f} GiB weights/GPU · KV {p.kv_cache_dtype}")
    out = [head, ("" if fence else "   ") + facts]
    out += [("- " if fence else "   · ") + w for w in p.why]
    if p.nodes:
        return out + _node_lines(p, fence)
    if fence:
        bare = ["```bash", p.command, "```", ""] if p.command else []
        out += ["", "```bash", p.docker_run, "```", "", "<details><summary>engine command and compose file</summary>", "",
                *bare, "```yaml", p.compose.rstrip(), "```", "", "</details>", ""]
    else:
        out += [f"   $ {p.command}"] if p.command else []
        out += [f"   $ {p.docker_run}", ""]
    return out


def _node_lines(p: Plan, fence: bool) -> list[str]:
    """Each node's commands, head first ($HEAD_IP: the head's address; $IFACE_NAME: the NIC between the nodes)."""
    out = []
    for n in p.nodes or []:
        title = f"node {n['node_rank']} ({n['role']})"
        if fence:
            out += ["", f"{title}:", "", "```bash", *n["commands"], "```", "", "```bash", n["docker_run"], "```"]
        else:
            out += [f"   {title}:"] + [f"     $ {cmd}" for cmd in n["commands"]] + [f"     or: {n['docker_run']}"]
    return out + [""]
