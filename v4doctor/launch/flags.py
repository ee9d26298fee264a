"""Flag knowledge per engine version (v4doctor/knowledge/flags/*.json, made by tools/gen_flags.py).

`table(engine, version)` picks the committed flag set nearest the asked version (the newest
one not newer than it, else the oldest); `names(engine)` maps every option string any known
version accepts to the flag's canonical key, so `-tp` and `--tensor-parallel-size` are one flag.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

FLAGS_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "flags"


@dataclass(frozen=True)
class FlagTable:
    engine: str
    version: str
    source: str
    method: str
    flags: dict  # key -> record (names, negations, value, nargs, choices, strict, fields)
    sort_version: str = ""  # orders tables whose version is not PEP 440 (llama.cpp commits)

    @functools.cached_property
    def index(self) -> dict[str, tuple[str, bool]]:
        """Option string -> (key, negated)."""
        out: dict[str, tuple[str, bool]] = {}
        for key, rec in self.flags.items():
            for n in rec["names"]:
                out[n] = (key, False)
                if n.startswith("--") and self.engine == "vllm":
                    out[n.replace("-", "_").replace("__", "--", 1)] = (key, False)
            for n in rec["negations"]:
                out[n] = (key, True)
        return out

    def lookup(self, option: str) -> tuple[str, bool] | None:
        """(key, negated) for an option; `--attention-config.x` / `-cc.mode` look up the flag before the dot.

        Like argparse (allow_abbrev, the default in vLLM and SGLang), a unique prefix of a long option counts."""
        head = option.split(".", 1)[0]
        return self.index.get(head) or unique_prefix(self.index, head)


def unique_prefix(index: dict, option: str):
    """argparse's abbreviation rule: `--max-model` is `--max-model-len` when no other long option starts so."""
    if not option.startswith("--") or len(option) < 3:
        return None
    hits = {index[name] for name in index if name.startswith(option)}
    return hits.pop() if len(hits) == 1 else None


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> FlagTable:
    d = json.loads(path.read_text(encoding="utf-8"))
    return FlagTable(d["engine"], d["version"], d["source"], d["method"], d["flags"], d.get("sort_version", d["version"]))


def tables(engine: str) -> list[FlagTable]:
    """Every committed flag set for an engine, oldest version first."""
    return list(_tables(engine))


@functools.lru_cache(maxsize=None)
def _tables(engine: str) -> tuple[FlagTable, ...]:
    """The package's flag data never changes while the process runs: list the folder once per engine."""
    found = [_load(p) for p in sorted(FLAGS_DIR.glob(f"{engine}-*.json"))]
    return tuple(sorted(found, key=lambda t: _version_key(t.sort_version)))


def _version_key(text: str) -> tuple:
    try:
        return (0, Version(text))
    except InvalidVersion:
        return (1, Version("0"))


def table(engine: str, version: str | None) -> FlagTable | None:
    """The flag set for `version`: the newest committed one not newer than it (else the oldest)."""
    found = tables(engine)
    if not found:
        return None
    if not version:
        return found[-1]
    try:
        want = Version(version.split("+")[0])
    except InvalidVersion:
        return found[-1]
    older = [t for t in found if _version_key(t.version)[0] == 0 and Version(t.version) <= want]
    return older[-1] if older else found[0]


@functools.lru_cache(maxsize=None)
def names(engine: str) -> dict[str, tuple[str, bool, bool]]:
    """Option string -> (canonical key, negated, takes a value), over every known version (newest wins)."""
    out: dict[str, tuple[str, bool, bool]] = {}
    for t in tables(engine):  # oldest first, so the newest version's spelling of a key wins
        for option, (key, neg) in t.index.items():
            out[option] = (key, neg, t.flags[key]["value"])
    return out
