"""`v4doctor gguf PATH…`: read GGUF headers (never the tensor data) and judge them."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import add_output_options, emit, output_format

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
    from v4doctor import api
    from v4doctor.output.progress import hash_progress

    with hash_progress(args.hash and output_format(args) == "text") as progress:
        result = api.gguf(args.paths, engine=args.engine, engine_version=args.engine_version, hub=args.hub,
                          hash_files=args.hash, repo=args.repo, revision=args.revision, timeout=args.timeout,
                          read_host=not args.no_host, progress=progress)
    emit(result.report, args, extra={"gguf": result.records}, head=_summary(result.records))
    return result.report.exit_code("error")


def _summary(records: list[dict]) -> list[tuple[str, str]]:
    """One line per model: name, architecture, quant, files, size."""
    lines = []
    for r in records:
        files = len(r.get("files", []))
        quant = r.get("name_quant") or r.get("file_type_name") or "?"
        text = f"{r.get('path')}: {r.get('name') or '?'} · arch {r.get('architecture')} · {quant} · {files} file(s) · {(r.get('total_bytes') or 0) / 1e9:.2f} GB"
        lines.append((text, "bold"))
    return lines
