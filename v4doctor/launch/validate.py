"""Validate a spec's flags against the engine's real flag set for its version.

Three problems: a flag this version does not know (with "did you mean"), a value outside the
flag's choices, and a flag (or JSON-config key) that another known version has but this one
dropped or renamed, e.g. `--attention_config.use_fp4_indexer_cache` on vLLM 0.33 (review §4b).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

from v4doctor.launch import flags as flagdb
from v4doctor.launch.spec import Arg, LaunchSpec

# Known renames across versions: (flag, sub key) -> (new flag.sub, value mapping); review §4b.
RENAMES = {
    ("attention-config", "use_fp4_indexer_cache"): ("attention-config.indexer_kv_dtype", {"true": "mxfp4"}),
}


@dataclass(frozen=True)
class FlagProblem:
    kind: str  # "unknown" | "choice" | "removed"
    arg: Arg
    message: str
    suggestion: str | None = None  # a replacement option name (rename) or None (drop)
    value: str | None = None  # the replacement value, when the rename maps it
    strict: bool = True  # the engine refuses it at startup


def _other_versions(engine: str, version: str) -> list[flagdb.FlagTable]:
    return [t for t in flagdb.tables(engine) if t.version != version]


def _unknown(arg: Arg, table: flagdb.FlagTable) -> FlagProblem:
    in_other = [t.version for t in _other_versions(table.engine, table.version)
                if t.version not in table.version.split("/") and t.lookup(arg.option)]
    if in_other:
        newer = all(_older(table.version.split("/")[-1], v) for v in in_other)
        what = "added later" if newer else "renamed or removed since"
        return FlagProblem("removed", arg, f"{arg.option} is not a flag of {table.engine} {table.version} "
                           f"({what}: it exists in {', '.join(in_other)})")
    options = [n for rec in table.flags.values() for n in rec["names"] + rec["negations"] if n.startswith("--")]
    close = difflib.get_close_matches(arg.option.replace("_", "-"), options, n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else ""
    return FlagProblem("unknown", arg, f"{arg.option} is not a flag of {table.engine} {table.version}{hint}",
                       suggestion=close[0] if close else None)


# Values an engine version documents and accepts but its --help choices (a Literal) leave out: the field is
# `TokenizerMode | str`, and vllm 0.33.0 config/model.py documents '"deepseek_v41" will use the DeepSeek V4.1
# prompt encoder' and picks it itself for DeepseekV41ForCausalLM. Never "fixed" away (issue #13).
DOCUMENTED_CHOICES = {("vllm", "--tokenizer-mode"): {"deepseek_v41": "0.30.0"}}


def _documented(engine: str, option: str, value: str, version: str) -> bool:
    since = DOCUMENTED_CHOICES.get((engine, option), {}).get(value)
    if since is None:
        return False
    try:
        return tuple(int(x) for x in version.split("/")[0].split(".")[:3]) >= tuple(int(x) for x in since.split("."))
    except ValueError:
        return True


def _choice(arg: Arg, rec: dict, table: flagdb.FlagTable) -> FlagProblem | None:
    if not rec.get("choices") or not arg.values or arg.sub:
        return None
    value = arg.values[0]
    if value in rec["choices"] or value.lower() in ("none",) or _documented(table.engine, arg.option, value, table.version):
        return None
    close = difflib.get_close_matches(value, rec["choices"], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return FlagProblem("choice", arg, f"{arg.option} {value!r} is not one of {table.engine} {table.version}'s choices "
                       f"({', '.join(rec['choices'])}){hint}", value=close[0] if close else None, strict=rec.get("strict", False))


# JSON-config keys removed at a version between two committed flag sets (read in the wheels, kb-audit §1):
# `use_fp4_indexer_cache` is a deprecated alias in vllm 0.29.0 config/attention.py and gone in 0.30.0.
REMOVED_SINCE = {("vllm", "attention-config", "use_fp4_indexer_cache"): "0.30.0"}


def _removed_since(engine: str, flag: str, key: str, version: str | None) -> bool:
    """True when the version asked is at or past the key's removal (None: the newest committed set is judged)."""
    since = REMOVED_SINCE.get((engine, flag, key))
    return since is not None and version is not None and _version_at_least(version.split("+")[0], since)


def _version_at_least(version: str, since: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(version) >= Version(since)
    except InvalidVersion:
        return False


def _sub_key(arg: Arg, rec: dict, table: flagdb.FlagTable, version: str | None = None) -> FlagProblem | None:
    """A JSON-config key (`--attention-config.X=...` or `-ac '{"X": ...}'`) this version does not have."""
    fields = rec.get("fields")
    if not fields:
        return None
    keys = [arg.sub] if arg.sub else _json_keys(arg)
    for key in keys:
        if key and (key not in fields or _removed_since(table.engine, arg.key, key, version)):
            new, mapping = RENAMES.get((arg.key, key), (None, {}))
            value = mapping.get(str(arg.values[0]).lower()) if new and arg.values else None
            fix = f"; use --{new}={value}" if new and value else ""
            return FlagProblem("removed", arg, f"{arg.key} has no key {key!r} in {table.engine} {table.version}{fix}",
                               suggestion=new, value=value)
    return None


def _json_keys(arg: Arg) -> list[str]:
    if not arg.values or not arg.values[0].lstrip().startswith("{"):
        return []
    try:
        data = json.loads(arg.values[0])
    except ValueError:
        return []
    return list(data) if isinstance(data, dict) else []


def _tables_for(engine: str, version: str | None) -> list[flagdb.FlagTable]:
    """The flag sets to trust: the exact version's; between two known versions, both (either may accept)."""
    found = flagdb.tables(engine)
    if not found:
        return []
    exact = flagdb.table(engine, version)
    if not version or exact.version == version or exact is found[-1] or exact is found[0] and exact.version != version and _older(version, exact.version):
        return [exact]
    newer = found[found.index(exact) + 1]
    return [exact, newer]


def _older(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) < Version(b)
    except InvalidVersion:
        return False


def _merged(tables: list[flagdb.FlagTable]) -> flagdb.FlagTable:
    if len(tables) == 1:
        return tables[0]
    flags: dict = {}
    for t in tables:
        for key, rec in t.flags.items():
            have = flags.setdefault(key, dict(rec))
            if have is not rec:
                have["names"] = list(dict.fromkeys(have["names"] + rec["names"]))
                have["negations"] = list(dict.fromkeys(have["negations"] + rec["negations"]))
                have["choices"] = None if not (have["choices"] and rec["choices"]) else list(dict.fromkeys(have["choices"] + rec["choices"]))
                have["fields"] = None if not (have["fields"] and rec["fields"]) else sorted(set(have["fields"]) | set(rec["fields"]))
    versions = "/".join(t.version for t in tables)
    return flagdb.FlagTable(tables[0].engine, versions, tables[0].source, tables[0].method, flags)


def validate(spec: LaunchSpec, version: str | None) -> list[FlagProblem]:
    """Every flag problem of the spec for the engine version (newest known version when None)."""
    tables = _tables_for(spec.engine, version)
    if not tables:
        return []
    table = _merged(tables)
    problems = []
    for arg in (*spec.config_args, *spec.args):
        if not arg.key:
            continue
        hit = table.lookup(arg.option) or (table.lookup(arg.option.replace("_", "-")) if spec.engine == "vllm" else None)
        if hit is None:
            problems.append(_unknown(arg, table))
            continue
        rec = table.flags[hit[0]]
        problem = _choice(arg, rec, table) or _sub_key(arg, rec, table, version)
        if problem:
            problems.append(problem)
    return problems


def flag_table_version(engine: str, version: str | None) -> str | None:
    """Which committed flag set(s) a version is judged by: "0.33.0", or "0.20.0/0.33.0" between them."""
    tables = _tables_for(engine, version)
    return "/".join(t.version for t in tables) if tables else None
