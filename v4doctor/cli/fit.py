"""`v4doctor fit`: the memory arithmetic of a launch plan (weights/GPU, KV budget, tokens, context)."""

from __future__ import annotations

import argparse

HELP = "compute the memory fit of a launch plan (weights per GPU, KV budget, largest context)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("plan from a launch command")
    src.add_argument("--cmd", help='a launch command, e.g. "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 2"')
    src.add_argument("--compose", metavar="FILE", help="a docker-compose file")
    src.add_argument("--facts", metavar="FILE", help="the host's GPUs from a `v4doctor snapshot` (default: --gpus)")
    g = p.add_argument_group("plan spelled out")
    g.add_argument("--model", "-m", help="flash, pro, a repo id or alias (default: flash)")
    g.add_argument("--gpus", help="COUNTxNAME, e.g. 2xH20, 8xB200, 4xRTX-PRO-6000")
    g.add_argument("--gpu-mem-gib", type=float, help="memory per GPU in GiB (default: from the knowledge base)")
    g.add_argument("--tp", type=int, help="tensor parallel size")
    g.add_argument("--dp", type=int, help="data parallel size")
    g.add_argument("--pp", type=int, help="pipeline parallel size")
    g.add_argument("--ep", action="store_true", default=None, help="expert parallel (with DP: experts sharded, the rest replicated)")
    g.add_argument("--kv-cache-dtype", help="fp8 (default), bfloat16, f16, q8_0")
    g.add_argument("--gpu-memory-utilization", "--mem-fraction-static", dest="fraction", type=float, help="the engine's memory fraction")
    g.add_argument("--max-model-len", type=int, help="the context to fit (default: the model's 1,048,576)")
    g.add_argument("--max-num-seqs", type=int, help="sequences at that length (default 1)")
    g.add_argument("--engine", "-e", help="vllm (default), sglang, llamacpp, ollama")
    g.add_argument("--engine-version", help="the engine version: picks the engine's accounting (vLLM < 0.30 blocks, SGLang 0.5.23 cap mode)")
    e = p.add_argument_group("engine memory settings (docs/fit.md)")
    e.add_argument("--max-num-batched-tokens", type=int, help="vLLM: tokens per batch; sizes every request's fixed KV blocks (default: vLLM's by GPU memory)")
    e.add_argument("--async-scheduling", action=argparse.BooleanOptionalAction, default=None,
                   help="vLLM: two batches in flight instead of one (doubles the fixed KV blocks per request)")
    e.add_argument("--kv-cache-memory-bytes", type=int, help="vLLM: a fixed KV pool per GPU instead of --gpu-memory-utilization's")
    e.add_argument("--enable-dp-attention", dest="dp_attention", action="store_true", default=None,
                   help="SGLang: --dp runs inside the TP group (TP 8 + DP 8 is 8 GPUs)")
    e.add_argument("--n-cpu-moe", type=int, help="llama.cpp: keep the routed experts of the first N layers in RAM")
    e.add_argument("--speculative", dest="spec_method", metavar="METHOD",
                   help="speculative decoding: mtp, dspark (vLLM), eagle (SGLang), ngram; adds the draft's weights and KV")
    e.add_argument("--num-speculative-tokens", type=int, help="draft tokens per step (vLLM num_speculative_tokens, SGLang --speculative-num-draft-tokens)")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.output import render

    plan = api.read_plan(cmd=args.cmd, compose_path=args.compose) if (args.cmd or args.compose) else None
    facts = api.load_facts(args.facts) if args.facts and not args.gpus else None
    if not args.gpus and facts is None:
        from v4doctor.errors import UsageError

        raise UsageError("give --gpus COUNTxNAME (e.g. 2xH20) or --facts FILE")
    api.check_engine_version(args.engine_version)
    overrides = {k: getattr(args, k) for k in ("tp", "dp", "pp", "ep", "max_model_len", "max_num_seqs", "fraction", "kv_cache_dtype",
                                               "engine_version", "max_num_batched_tokens", "async_scheduling",
                                               "kv_cache_memory_bytes", "dp_attention", "n_cpu_moe", "spec_method",
                                               "num_speculative_tokens")}
    result, gpu_name = api.fit(model=args.model, gpus=args.gpus, gpu_mem_gib=args.gpu_mem_gib, plan=plan, facts=facts,
                               engine=args.engine, overrides=overrides)
    if args.json:
        data = {"schema_version": 1, "gpu": gpu_name, **result.to_dict()}
        data["engine_version"] = data.get("engine_version") or args.engine_version
        print(render.to_json(data))
        return 0 if result.fits else 1
    _print_table(result, gpu_name)
    return 0 if result.fits else 1


def _print_table(result, gpu_name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from v4doctor.api import fit_rows as rows

    table = Table(title=f"{result.model} on {result.gpus}x {gpu_name} ({result.engine})", show_lines=False)
    for col in ("quantity", "value", "how"):
        table.add_column(col)
    for q, v, how in rows(result):
        table.add_row(q, v, how)
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    for note in result.notes:
        console.print(f"  note: {note}")
