"""`v4doctor fit`: the memory arithmetic of a launch plan (weights/GPU, KV budget, tokens, context)."""

from __future__ import annotations

import argparse
import re

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
    g.add_argument("--engine-version", help="the engine version (recorded; flag rules use it)")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def _gpus(text: str, mem: float | None, kb) -> tuple[int, float, str]:
    from v4doctor.errors import UsageError

    m = re.fullmatch(r"\s*(\d+)\s*[xX×*]\s*(\S+)\s*", text)
    if not m or int(m.group(1)) < 1:
        raise UsageError(f"--gpus {text!r}: expected COUNTxNAME, e.g. 2xH20")
    count, name = int(m.group(1)), m.group(2)
    if mem is None:
        rec = kb.gpu(name)
        if rec is None:
            raise UsageError(f"--gpus: unknown GPU {name!r}; give --gpu-mem-gib")
        mem = rec["memory_bytes_nvml"] / (1 << 30) if rec.get("memory_bytes_nvml") else float(rec["memory_gib"])
        name = rec["key"]
    return count, mem, name


def _spec(args):
    from v4doctor.collect.target import read_compose
    from v4doctor.launch import parse_compose, parse_text

    from v4doctor.cli.fix import config_text
    from v4doctor.launch import with_config

    if not (args.compose or args.cmd):
        return None
    text, kind = (read_compose(args.compose), "compose") if args.compose else (args.cmd, "cmd")
    spec = parse_compose(text) if kind == "compose" else parse_text(text)
    config = config_text(text, kind)
    return with_config(spec, config) if config is not None else spec


def _apply_overrides(kwargs: dict, args) -> dict:
    for name in ("tp", "dp", "pp", "ep", "max_model_len", "max_num_seqs", "fraction"):
        if getattr(args, name) is not None:
            kwargs[name] = getattr(args, name)
    if args.kv_cache_dtype:
        d = args.kv_cache_dtype.lower()
        kwargs["kv_format"] = {"bfloat16": "bf16", "float16": "f16", "auto": "fp8"}.get(d, d if d in ("bf16", "f16", "q8_0") else "fp8")
    return kwargs


def _host_gpus(args, spec, kb) -> tuple[int, float, str]:
    from v4doctor.errors import UsageError
    from v4doctor.facts import known

    if args.gpus:
        return _gpus(args.gpus, args.gpu_mem_gib, kb)
    if args.facts:
        from v4doctor.judge.doctor import load_facts
        from v4doctor.launch.plan import visible_gpus

        facts = load_facts(args.facts)
        devs = facts.gpu.devices if known(facts.gpu) and known(facts.gpu.devices) else []
        if not devs or not known(devs[0].memory_total_bytes):
            raise UsageError(f"{args.facts}: no GPU memory recorded; give --gpus")
        count = visible_gpus(spec, len(devs)) if spec else len(devs)
        return count, devs[0].memory_total_bytes / (1 << 30), str(devs[0].name)
    raise UsageError("give --gpus COUNTxNAME (e.g. 2xH20) or --facts FILE")


def compute(args):
    """The FitResult for the arguments (pure apart from reading --compose / --facts)."""
    from v4doctor.errors import UsageError
    from v4doctor.launch.fit import fit
    from v4doctor.knowledge.kb import UnknownModelError, load
    from v4doctor.launch.plan import plan, resolve_model

    kb = load()
    spec = _spec(args)
    try:
        model = kb.model(args.model) if args.model else (resolve_model(spec, kb) if spec else kb.model("flash"))
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    if model is None:
        raise UsageError(f"model {spec.model!r} is not in the knowledge base; give --model")
    count, mem, name = _host_gpus(args, spec, kb)
    default = "llamacpp" if model.get("format") == "gguf" else "vllm"
    engine = (args.engine or (spec.engine if spec else default)).lower()
    kwargs = _apply_overrides(plan(spec) if spec else {}, args)
    if spec is None and args.tp is None and args.dp is None and args.pp is None:
        kwargs["tp"] = count  # spelled out without a layout: tensor parallel over every GPU
    if engine in ("llamacpp", "ollama"):
        engine, kwargs["tp"] = "llamacpp", count
        kwargs.setdefault("kv_format", "f16")  # llama.cpp's default KV type
        kwargs["indexer"] = kwargs["kv_format"]
    base = kb.find_model(model["base"]) if model.get("base") else None
    try:
        return fit(model, gpus=count, gpu_mem_gib=mem, engine=engine, base=base, **kwargs), name
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from v4doctor.output import render

    result, gpu_name = compute(args)
    if args.json:
        data = {"schema_version": 1, "gpu": gpu_name, "engine_version": args.engine_version, **result.to_dict()}
        print(render.to_json(data))
        return 0 if result.fits else 1
    _print_table(result, gpu_name)
    return 0 if result.fits else 1


def _print_table(result, gpu_name: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from v4doctor.launch.fit import rows

    table = Table(title=f"{result.model} on {result.gpus}x {gpu_name} ({result.engine})", show_lines=False)
    for col in ("quantity", "value", "how"):
        table.add_column(col)
    for q, v, how in rows(result):
        table.add_row(q, v, how)
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    for note in result.notes:
        console.print(f"  note: {note}")
