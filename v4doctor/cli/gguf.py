"""`v4doctor gguf PATH…`: read GGUF headers (never the tensor data) and judge them."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_output_options, output_format

HELP = "inspect GGUF files, split sets, folders or Ollama models: architecture, completeness, provenance, offload"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="a .gguf file, a shard of a split set, a folder, or an Ollama model name")
    p.add_argument("--engine", "-e", default="llamacpp", help="the engine that will load it: llamacpp (default), ollama, vllm, sglang")
    p.add_argument("--engine-version", help="the llama.cpp build (e.g. b9840) if not the installed one")
    p.add_argument("--hub", action="store_true", help="compare sizes with the repo's files on the Hugging Face Hub (network)")
    p.add_argument("--hash", action="store_true", help="sha256 every file (reads it all; progress on stderr) and compare with the hub's LFS sha256 (implies --hub)")
    p.add_argument("--repo", help="the hub repo the files came from, e.g. unsloth/DeepSeek-V4-Flash-GGUF")
    p.add_argument("--revision", default="main", help="hub revision to compare with (default: main)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per hub request (default: 10)")
    p.add_argument("--no-host", action="store_true", help="do not read this host's GPUs, RAM and llama.cpp build (no offload plan)")
    add_output_options(p)


def run(args: argparse.Namespace) -> int:
    from v4doctor.judge.doctor import judge
    from v4doctor.errors import UsageError
    from v4doctor.weights.files import WeightsInputError

    try:
        records = _read(args)
    except WeightsInputError as exc:
        raise UsageError(str(exc)) from None
    facts = _facts(args, records)
    report = judge(facts, select=["gguf"])
    _emit(report, records, output_format(args), args.verbose)
    return report.exit_code("error")


def _read(args: argparse.Namespace) -> list[dict]:
    import os

    from v4doctor.collect.hub import env_true
    from v4doctor.knowledge.kb import load as load_kb
    from v4doctor.weights.hashing import rich_progress
    from v4doctor.weights.load import load
    from v4doctor.weights.provenance import provenance

    records = []
    with rich_progress(args.hash and output_format(args) == "text") as progress:
        for given in args.paths:
            records += load(given, hash_files=args.hash, progress=progress)
    if args.hub or args.hash:
        offline = env_true(os.environ.get("HF_HUB_OFFLINE"))
        for rec in records:
            rec["repo"] = args.repo
            rec["provenance"] = provenance(rec, load_kb(), revision=args.revision, offline=offline, timeout=args.timeout)
    return records


def _facts(args: argparse.Namespace, records: list[dict]):
    from v4doctor.collect import soft
    from v4doctor.collect.target import build_target
    from v4doctor.facts import Facts, Unknown

    target = build_target(model=records[0]["path"], engine=args.engine, engine_version=args.engine_version)
    facts = Facts(target=target, gguf=records, source="gguf")
    if not args.no_host:
        from v4doctor.collect import gpu, software, system

        facts.gpu = soft("gpu", gpu.collect)
        facts.system = soft("system", system.collect, [])
        facts.binaries = soft("binaries", software.collect_binaries, {k: v for k, v in software.BINARIES.items() if k.startswith(("llama", "ollama"))}) or {}
    else:
        facts.gpu = facts.system = Unknown("--no-host: this host was not read")
    return facts


def _emit(report, records: list[dict], fmt: str, verbose: bool) -> None:
    from v4doctor.cli.run import emit

    emit(report, fmt, verbose, extra={"gguf": records}, head=_summary(records))


def _summary(records: list[dict]) -> list[tuple[str, str]]:
    """One line per model: name, architecture, quant, files, size."""
    lines = []
    for r in records:
        files = len(r.get("files", []))
        quant = r.get("name_quant") or r.get("file_type_name") or "?"
        text = f"{r.get('path')}: {r.get('name') or '?'} · arch {r.get('architecture')} · {quant} · {files} file(s) · {(r.get('total_bytes') or 0) / 1e9:.2f} GB"
        lines.append((text, "bold"))
    return lines
