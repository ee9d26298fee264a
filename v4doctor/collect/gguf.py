"""GGUF facts: what the target's GGUF files declare (headers only), for `Facts.gguf`.

The target is a GGUF when its model is a local `.gguf` file, a split set or a folder of
them, an Ollama model name (engine ollama), or a `-m/--model` path in a llama.cpp launch
command. Anything else is `Unknown("… is not a GGUF …")`, so the GGUF checks say skipped.
"""

from __future__ import annotations

from pathlib import Path

from v4doctor.facts import TargetFacts, NotApplicable, Unknown, known

_MODEL_FLAGS = ("-m", "--model")


def gguf_input(target: TargetFacts) -> str | Unknown:
    """The path or Ollama name to read, or why there is none."""
    if known(target.local_path):
        path = Path(target.local_path)
        if path.suffix.lower() == ".gguf" or (path.is_dir() and _has_gguf(path)):
            return target.local_path
        return NotApplicable(f"the target {target.local_path} is not a GGUF file or a folder of them")
    from_cmd = _cmd_model(target.cmd) if known(target.cmd) else None
    if from_cmd:
        return from_cmd
    if target.engine == "ollama":
        return target.model
    return NotApplicable(f"the target {target.model!r} is not a GGUF (engine {target.engine})")


def collect(target: TargetFacts, *, hash_files: bool = False) -> list[dict] | Unknown:
    """Read the target's GGUF headers; a name that finds nothing is Unknown, not an error."""
    given = gguf_input(target)
    if not known(given):
        return given
    from v4doctor.weights.files import WeightsInputError
    from v4doctor.weights.load import load

    try:
        return load(given, hash_files=hash_files)
    except WeightsInputError as exc:
        return Unknown(str(exc))


def _cmd_model(argv: list[str]) -> str | None:
    """`llama-server -m /models/x.gguf ...` -> /models/x.gguf (also `--model=x.gguf`)."""
    for i, arg in enumerate(argv):
        if arg in _MODEL_FLAGS and i + 1 < len(argv) and argv[i + 1].lower().endswith(".gguf"):
            return argv[i + 1]
        if arg.startswith("--model=") and arg.lower().endswith(".gguf"):
            return arg.split("=", 1)[1]
    return None


def _has_gguf(folder: Path) -> bool:
    return any(folder.glob("*.gguf")) or any(folder.glob("*/*.gguf"))


def read_records(paths: list[str], *, hash_files: bool = False, hub: bool = False, repo: str | None = None,
                 revision: str = "main", timeout: float = 10.0, progress=None) -> list[dict]:
    """`v4doctor gguf`: the header records of every given path (file, split set, folder, Ollama name),
    compared with the hub's files when `hub` (HF_HUB_OFFLINE is obeyed). Raises WeightsInputError on bad input."""
    import os

    from v4doctor.collect.hub import env_true
    from v4doctor.knowledge.kb import load as load_kb
    from v4doctor.weights.load import load
    from v4doctor.weights.provenance import provenance

    records: list[dict] = []
    for given in paths:
        records += load(given, hash_files=hash_files, progress=progress)
    if hub:
        offline = env_true(os.environ.get("HF_HUB_OFFLINE"))
        for rec in records:
            rec["repo"] = repo
            rec["provenance"] = provenance(rec, load_kb(), revision=revision, offline=offline, timeout=timeout)
    return records
