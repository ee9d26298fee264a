"""The recipe comparison: where a vendor recipe covers the host, the top plan agrees with its layout and flags,
or the table says why it differs. The recipes are verbatim copies under fixtures/recipes/ (source URL in each).

vLLM commands are assembled the way recipes.vllm.ai does: base_args + the tool_calling and reasoning features
(+ spec_decoding when opted in) + the strategy's vllm_args and parallel flag at the GPU count + the recipe's
hardware override + the strategy's hardware override (which replaces the recipe-level one) + its extra_args.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field

import pytest
from ruamel.yaml import YAML

from tests.conftest import FIXTURES, load_host
from v4doctor.knowledge.kb import load
from v4doctor.launch import parse_text
from v4doctor.launch.plan import layout
from v4doctor.planner import Goal, hypothetical, plan

RECIPES = FIXTURES / "recipes"
IGNORED = {"host", "port", "trust-remote-code"}  # where to listen; --trust-remote-code: not needed (V4D314 explains)


def _yaml(name: str):
    return YAML(typ="safe").load((RECIPES / name).read_text())


def vllm_recipe(model: str, strategy: str, hw: str, gpus: int, variant: str = "fp8", spec: str | None = None) -> str:
    """The recipe's command for a variant (`fp8` is the preview repo, `default` the newest release) and strategy.

    The variant's hardware override (deep_gemm_mega_moe on Blackwell) is left out of single_node_tp, whose
    comment says the TP-only path uses the default MoE backend."""
    r, s = _yaml(f"vllm-DeepSeek-V4-{model}.yaml"), _yaml(f"vllm-strategy-{strategy}.yaml")
    var = r["variants"][variant]
    args = list(r["model"]["base_args"]) + r["features"]["tool_calling"]["args"] + r["features"]["reasoning"]["args"]
    if spec:
        mode = r["features"]["spec_decoding"]["modes"][spec]
        args += mode.get("hardware_overrides", {}).get(hw, {}).get("args") or mode["args"]
    args += s["vllm_args"] + [s["parallel_flag"], str(gpus)]
    over = r.get("strategy_overrides", {}).get(strategy, {})
    hw_args = over.get("hardware_overrides", {}).get(hw, {}).get("extra_args")
    args += hw_args if hw_args is not None else r.get("hardware_overrides", {}).get(hw, {}).get("extra_args", [])
    if strategy != "single_node_tp":
        args += var.get("hardware_overrides", {}).get(hw, {}).get("extra_args", [])
    args += over.get("extra_args", [])
    model_id = var.get("model_id", r["model"]["model_id"])
    return " ".join(["vllm", "serve", model_id, *(shlex.quote(a) if a.startswith("{") else a for a in args)])


def vllm_multinode_recipe(model: str, strategy: str, hw: str, per_node: int, nodes: int, rank: int = 0) -> str:
    """Node `rank`'s command of a multi-node strategy, as recipes.vllm.ai's command-synthesis.js renders it
    (fixtures/recipes/vllm-command-synthesis-multinode.js): TP/TEP over every GPU with the mp backend's
    --nnodes/--node-rank/--master-addr $HEAD_IP (--headless on followers); tp_pp: TP in a node, PP over the nodes;
    DEP: --data-parallel-size over every GPU, --data-parallel-size-local and --data-parallel-address on each node."""
    s = _yaml(f"vllm-strategy-{strategy}.yaml")
    tp_pp = s.get("parallelism") == "tp_pp"
    argv = vllm_recipe(model, strategy, hw, per_node if tp_pp else per_node * nodes).split()
    cut = argv.index(s["parallel_flag"]) + 2
    if s["parallel_flag"] == "--data-parallel-size":  # DEP: each node serves its local DP ranks
        dp = ["--data-parallel-size-local", str(per_node), "--data-parallel-address", "$HEAD_IP"]
        return " ".join(argv[:cut] + dp + (["--data-parallel-start-rank", str(rank * per_node)] if rank else []) + argv[cut:])
    mp = (["--pipeline-parallel-size", str(nodes)] if tp_pp else []) + ["--nnodes", str(nodes), "--node-rank", str(rank), "--master-addr", "$HEAD_IP"]
    return " ".join(argv[:cut] + mp + (["--headless"] if rank else []) + argv[cut:])


def sglang_cell(hw: str, quant: str, strategy: str, model: str = "flash", nodes: int = 1, rank: int = 0) -> str:
    """A cookbook cell; a multi-node one (`multi-N`) with the rendezvous flags the cookbook's engine injects."""
    name = "sglang-cookbook-deepseek-v4-cells.json" if nodes == 1 else "sglang-cookbook-deepseek-v4-multinode-cells.json"
    doc = json.loads((RECIPES / name).read_text())
    where = "single" if nodes == 1 else f"multi-{nodes}"
    cell = next(c for c in doc["cells"] if c["match"] == {"hw": hw, "variant": model, "quant": quant, "strategy": strategy, "nodes": where})
    name = doc["modelNames"].get(f"{hw}|{model}|{quant}") or doc["modelNames"][f"{model}|{quant}"]
    flags = " ".join(cell["flags"]).replace("{{MODEL_NAME}}", name)
    if nodes > 1:  # docs.sglang.io multi_node.md: --dist-init-addr HEAD:20000 --nnodes N --node-rank R
        flags += f" --dist-init-addr $HEAD_IP:20000 --nnodes {nodes} --node-rank {rank}"
    return f"sglang serve {flags}"


@dataclass(frozen=True)
class Row:
    id: str
    host: str  # a fixture file or COUNTxGPU
    goal: Goal
    recipe: str  # the vendor command
    differs: dict = field(default_factory=dict)  # flag (or "layout") -> why the plan differs
    nodes: int = 1  # plan --nodes: the recipe's command for the head node (rank 0)


HOPPER_PRO_DIFFERS = {  # the Pro recipe's Hopper override against a plan over two 8x H100 nodes
    "gpu-memory-utilization": "the plan keeps vLLM's default 0.92: 200,000 tokens fit there by the fit model",
    "max-num-seqs": "the recipe's 16: the fit holds about 3 requests of 200,000 tokens on 2 x 8 H100; the plan asks for what fits",
    "enable-flashinfer-autotune": "the plan turns autotune off only for TP-only layouts on one node (the Flash recipe's single_node_tp)",
    "compilation-config": "the plan keeps vLLM's default compilation config"}

ROWS = [
    Row("vllm-flash-8xh200-latency-tp", "8xH200", Goal(model="flash", engine="vllm", prefer="latency"),
        vllm_recipe("Flash", "single_node_tp", "hopper", 8, spec="mtp")),
    Row("vllm-flash-8xb200-latency-tp", "8xb200.json", Goal(model="flash", engine="vllm", prefer="latency"),
        vllm_recipe("Flash", "single_node_tp", "blackwell", 8, spec="mtp"),
        {"attention-config.use_fp4_indexer_cache": "the recipe's use_fp4_indexer_cache=True is rejected by vLLM 0.33 (V4D315); the plan asks for the same "
                             "mxfp4 indexer cache as --attention-config.indexer_kv_dtype=mxfp4"}),
    Row("vllm-flash-8xh200-tep", "8xH200", Goal(model="flash", engine="vllm", prefer="context"),
        vllm_recipe("Flash", "single_node_tep", "hopper", 8),
        {"layout": "the fit holds the full 1,048,576 tokens under DP+EP too, with a KV pool per GPU (8x the requests of TP+EP, "
                   "whose KV cache is replicated on every rank); the recipe's own prose recommends DP+EP",
         "tensor-parallel-size": "DP=8 instead of TP=8 (see layout)"}),
    Row("vllm-flash-4xh200-dep-concurrency", "4xh200.json", Goal(model="flash", engine="vllm", prefer="concurrency", context=131072),
        vllm_recipe("Flash", "single_node_dep", "hopper", 4),
        {"compilation-config": "the plan keeps vLLM's default compilation config (the recipe's cudagraph/custom-op choice is a speed tweak)"}),
    Row("vllm-pro-8xb200-tep", "8xb200.json", Goal(model="pro", engine="vllm", context=262144),
        vllm_recipe("Pro", "single_node_tep", "blackwell", 8),
        {"attention-config.use_fp4_indexer_cache": "rejected by vLLM 0.33 (V4D315); the plan uses indexer_kv_dtype=mxfp4",
         "compilation-config": "the plan keeps vLLM's default compilation config",
         "layout": "DP+EP holds 262,144 tokens as well, with a KV pool per GPU: more requests than TP+EP (replicated KV)",
         "tensor-parallel-size": "DP=8 instead of TP=8 (see layout)"}),
    Row("vllm-pro-8xh200-tep-200k", "8xH200", Goal(model="pro", engine="vllm", context=200000),
        vllm_recipe("Pro", "single_node_tep", "hopper", 8),
        {"gpu-memory-utilization": "the plan keeps vLLM's default 0.92: 200,000 tokens fit there by the fit model",
         "max-num-seqs": "the recipe's 16: the fit model holds about 4 requests of 200,000 tokens (99 GiB of Pro weights per GPU; "
                         "the fit is calibrated on engine-printed figures in issue #13); the plan asks for what fits",
         "enable-flashinfer-autotune": "the plan turns autotune off only for TP-only layouts (the Flash recipe's single_node_tp)",
         "compilation-config": "the plan keeps vLLM's default compilation config"}),
    Row("vllm-flash-4xgb200-dep", "4xGB200", Goal(model="flash", engine="vllm", prefer="concurrency", context=131072),
        vllm_recipe("Flash", "single_node_dep", "blackwell", 4),
        {"attention-config.use_fp4_indexer_cache": "rejected by vLLM 0.33 (V4D315); the plan uses indexer_kv_dtype=mxfp4",
         "compilation-config": "the plan keeps vLLM's default compilation config"}),
    Row("sglang-flash-4xrtxpro6000-low-latency", "4xRTX-PRO-6000", Goal(model="flash", engine="sglang", prefer="latency"),
        sglang_cell("rtx6000", "fp4", "low-latency"),
        {"mem-fraction-static": "the plan keeps SGLang's own default fraction (the fit ports it from server_args.py)",
         "cuda-graph-max-bs-decode": "the plan keeps SGLang's default"}),
    Row("sglang-flash-4xh200-low-latency", "4xh200.json", Goal(model="flash", engine="sglang", prefer="latency"),
        sglang_cell("h200", "fp4", "low-latency")),
    Row("sglang-flash-8xh100-low-latency", "8xh100-80g.json", Goal(model="flash", engine="sglang", prefer="latency"),
        sglang_cell("h100", "fp4", "low-latency")),
    Row("sglang-flash-8xh100-high-throughput", "8xh100-80g.json", Goal(model="flash", engine="sglang"),
        sglang_cell("h100", "fp4", "high-throughput")),
    Row("sglang-flash-8xb200-low-latency", "8xb200.json", Goal(model="flash", engine="sglang", prefer="latency"),
        sglang_cell("b200", "fp4", "low-latency"),
        {"layout": "the plan uses all 8 GPUs (TP=8); the cookbook cell uses 4 (TP=4)", "tp-size": "TP=8 (see layout)",
         "chunked-prefill-size": "the plan keeps SGLang's default", "disable-flashinfer-autotune": "the plan keeps SGLang's default",
         "swa-full-tokens-ratio": "the plan keeps SGLang's default"}),
    Row("sglang-flash-fp8-4xh200-balanced", "4xh200.json",
        Goal(model="sgl-project/DeepSeek-V4-Flash-FP8", engine="sglang", prefer="concurrency", context=65536),
        sglang_cell("h200", "fp8", "balanced"),
        {         "speculative-algorithm": "the plan adds speculative decoding only when latency is preferred",
         "speculative-num-steps": "as speculative-algorithm", "speculative-eagle-topk": "as speculative-algorithm",
         "speculative-num-draft-tokens": "as speculative-algorithm", "cuda-graph-max-bs-decode": "the plan keeps SGLang's default",
         "max-running-requests": "sized by the fit for the asked context (the cookbook's 128 is its conservative stress-test value)",
         "deepep-config": "the plan keeps DeepEP's default SM split"}),
    # over two nodes: Pro does not fit one 8x H100 node (vLLM recipe multi_node_tep / multi_node_tp_pp, Hopper override)
    Row("vllm-pro-2x8xh100-multi-tep", "8xh100-80g.json", Goal(model="pro", engine="vllm", context=200000),
        vllm_multinode_recipe("Pro", "multi_node_tep", "hopper", 8, 2),
        {"layout": "TP 8 x PP 2 holds about 3 requests of 200,000 tokens by the fit, TP 16 + EP about 1.6: a PP stage holds half "
                   "the layers' KV, while TP 16 keeps a whole KV replica on every rank (V4 has one KV head); the recipe's TP+EP "
                   "over both nodes is the plan ranked second, with the recipe's rendezvous flags",
         "tensor-parallel-size": "TP 8 in a node (see layout)", "enable-expert-parallel": "the TP x PP plan keeps the experts TP-sharded",
         "nnodes": "the TP x PP plan runs over Ray (`ray start` on each node, `vllm serve` on the head): no mp rendezvous flags",
         "node-rank": "as nnodes", "master-addr": "as nnodes", **HOPPER_PRO_DIFFERS}, nodes=2),
    Row("vllm-pro-2x8xh100-tp-pp", "8xh100-80g.json", Goal(model="pro", engine="vllm", context=200000),
        vllm_multinode_recipe("Pro", "multi_node_tp_pp", "hopper", 8, 2),
        {"nnodes": "the same TP 8 x PP 2 layout over Ray (--distributed-executor-backend ray, `ray start` on each node), the "
                   "backend `run --ray` checks node by node, instead of the recipe's mp rendezvous",
         "node-rank": "as nnodes", "master-addr": "as nnodes", "distributed-executor-backend": "as nnodes", **HOPPER_PRO_DIFFERS}, nodes=2),
]


def _facts(host: str):
    return load_host(host) if host.endswith(".json") else hypothetical(host, load())


def _flags(command: str) -> dict:
    return {k: v for k, v in parse_text(command).flags.items() if k not in IGNORED}


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_top_plan_agrees_with_the_recipe_or_says_why(row: Row):
    top = plan(_facts(row.host), row.goal, nodes=row.nodes).plans[0]
    ours, theirs = parse_text(top.command), parse_text(row.recipe)
    assert ours.model == theirs.model
    same_layout = layout(ours) == layout(theirs)
    assert same_layout or "layout" in row.differs, (layout(ours), layout(theirs))
    mine, vendor = _flags(top.command), _flags(row.recipe)
    unexplained = {k: (mine.get(k), v) for k, v in vendor.items() if mine.get(k) != v and k not in row.differs}
    assert not unexplained, f"plan differs from the recipe without a reason: {unexplained}"
    stale = [k for k in row.differs if k != "layout" and mine.get(k) == vendor.get(k)]
    assert not stale and (not same_layout or "layout" not in row.differs), f"the table says these differ, they agree: {stale}"


def test_table_covers_the_recipes_hardware():
    """vLLM and SGLang, Hopper (H100, H200) and Blackwell (B200), Flash and Pro."""
    assert {r.recipe.split()[0] for r in ROWS} == {"vllm", "sglang"}
    assert {"8xH200", "8xb200.json", "4xh200.json", "8xh100-80g.json"} <= {r.host for r in ROWS}


# The cookbook's verified multi-node SGLang cells (fixtures/recipes/sglang-cookbook-deepseek-v4-multinode-cells.json) that the
# plan cannot reproduce yet: the fit's SGLang 0.5.23 fixed bytes per attention rank (about 32 GB for Pro, launch/fit_sglang.py)
# do not shrink with the cell's --max-running-requests 32, so a TP-16 rank's KV budget holds no request. When the fit changes,
# this test fails and the cell moves to ROWS.
GAPS = [
    ("8xh100-80g.json", Goal(model="pro", engine="sglang", prefer="latency"), sglang_cell("h100", "fp4", "low-latency", "pro", nodes=2)),
    ("8xH200", Goal(model="sgl-project/DeepSeek-V4-Pro-FP8", engine="sglang", prefer="concurrency", context=65536),
     sglang_cell("h200", "fp8", "balanced", "pro", nodes=2)),
]


@pytest.mark.parametrize("host,goal,recipe", GAPS, ids=["sglang-pro-2x8xh100-low-latency", "sglang-pro-fp8-2x8xh200-balanced"])
def test_multinode_cookbook_cells_the_fit_cannot_place_yet(host, goal, recipe):
    theirs = parse_text(recipe)
    assert theirs.flag("nnodes") == "2" and theirs.flag("node-rank") == "0" and theirs.flag("dist-init-addr") == "$HEAD_IP:20000"
    result = plan(_facts(host), goal, nodes=2)
    over = [p for p in result.plans if p.layout["nodes"] == 2 and p.model == theirs.model]
    assert not over, "the plan now places this cookbook cell over two nodes: move it to ROWS"
    assert any("per GPU" in r["why"] or "holds" in r["why"] or "V4D30" in r["why"] for r in result.rejected), result.rejected
