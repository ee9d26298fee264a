#!/usr/bin/env python3
"""Generate v4doctor/knowledge/flags/<engine>-<version>.json from an engine's own help or sources.

    python tools/gen_flags.py vllm-help  FILE --version 0.33.0     # `vllm serve --help=all` output
    python tools/gen_flags.py vllm-wheel vllm-0.20.0-....whl         # static AST read of the wheel's sources
    python tools/gen_flags.py sglang-wheel sglang-0.5.12-....whl     # sglang/srt/server_args.py, static
    python tools/gen_flags.py llama-sdist llama_cpp_python-....tar.gz  # vendor/llama.cpp/common/arg.cpp

Each flag record: `names` (every option string that sets it), `negations` (option strings
that set a boolean False), `value` (takes a value), `nargs`, `choices`, `strict` (argparse
enforces the choices), `fields` (allowed keys of a JSON config flag such as --attention-config).
Nothing here runs the engine: the wheels need a CUDA torch, so their sources are read statically.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flag_readers import from_llama_arg_cpp, from_vllm_help  # noqa: E402
from flag_readers_ast import from_sglang_wheel, from_vllm_wheel  # noqa: E402

OUT_DIR = Path(__file__).resolve().parent.parent / "v4doctor" / "knowledge" / "flags"


def from_llama_sdist(path: Path) -> tuple[dict, str, str]:
    """(flags, llama-cpp-python version, member path) from the sdist's vendored llama.cpp."""
    with tarfile.open(path) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("vendor/llama.cpp/common/arg.cpp"))
        src = tf.extractfile(member).read().decode()
        pkg = re.search(r"llama_cpp_python-([\d.]+)", path.name).group(1)
    return from_llama_arg_cpp(src), pkg, member.name


# --------------------------------------------------------------------------- main
def write(engine: str, version: str, flags: dict, method: str, source: str, extra: dict | None = None) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"{engine}-{version}.json"
    data = {"engine": engine, "version": version, "method": method, "source": source,
            "generated_by": "tools/gen_flags.py", "generated_on": _dt.date.today().isoformat(),
            **(extra or {}), "flags": dict(sorted(flags.items()))}
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=("vllm-help", "vllm-wheel", "sglang-wheel", "llama-sdist"))
    p.add_argument("file", type=Path)
    p.add_argument("--version", help="engine version (vllm-help only)")
    p.add_argument("--source", default="", help="where the input came from (URL or path)")
    p.add_argument("--extra", default="{}", help="extra JSON fields to record (e.g. the llama.cpp commit)")
    a = p.parse_args(argv)
    extra = json.loads(a.extra)
    if a.kind == "vllm-help":
        out = write("vllm", a.version, from_vllm_help(a.file.read_text()), "parsed the output of `vllm serve --help=all`",
                    a.source or a.file.name, extra)
    elif a.kind == "vllm-wheel":
        flags, version = from_vllm_wheel(a.file)
        out = write("vllm", version, flags, "static AST read of vllm/engine/arg_utils.py add_cli_args, the config "
                    "dataclasses (vllm/config/*.py) and vllm/entrypoints (FrontendArgs, cli/serve.py) from the wheel; "
                    "not executed (needs a CUDA torch)", a.source or a.file.name, extra)
    elif a.kind == "sglang-wheel":
        flags, version = from_sglang_wheel(a.file)
        out = write("sglang", version, flags, "static AST read of sglang/srt/server_args.py add_argument calls "
                    "and (>= 0.5.2x) the sglang/srt/arg_groups field structs from the wheel; not executed", a.source or a.file.name, extra)
    else:
        flags, pkg, member = from_llama_sdist(a.file)
        out = write("llamacpp", extra.pop("llama_cpp_build", f"llama-cpp-python-{pkg}"), flags,
                    f"regex read of common_arg(...) options in {member} from the llama-cpp-python {pkg} sdist",
                    a.source or a.file.name, extra)
    print(f"wrote {out} ({len(json.loads(out.read_text())['flags'])} flags)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
