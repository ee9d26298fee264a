"""The package's layers, enforced on the import graph (every `import`, at module level or inside a function).

docs/architecture.md gives the layers in words. The rules:
1. the package root holds only __init__, __main__, api, api_check (the plugin API's old path), errors, config;
2. no cycle between parts (a part is a folder of the package, or a root module, or the checks);
3. nothing outside `cli` imports `cli`; nothing outside `cli`/`server` imports `server` (the serve command starts it);
4. the faces (cli, server) reach the library only through `api`, `output`, `errors` and `config`;
5. checks import no collector (and no face, and not `api`);
6. nothing below the faces imports `api`.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "v4doctor"
ROOT_MODULES = {"__init__", "__main__", "api", "api_check", "errors", "config"}
FACES = {"cli", "server"}
FACE_MAY_USE = FACES | {"api", "output", "errors", "config", "__init__"}


def _module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "checks"):
        rel = path.relative_to(ROOT / "checks").with_suffix("")
        parts = ["v4doctor_checks", *rel.parts]
    else:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    mod = _module_name(path)
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.add(name)
            out.update(f"{name}.{a.name}" for a in node.names)  # `from v4doctor import api` imports v4doctor.api
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {n for n in out if n.split(".")[0] in ("v4doctor", "v4doctor_checks")}


def _part(module: str) -> str:
    """v4doctor.judge.registry -> judge; v4doctor.api -> api; v4doctor_checks.gpu -> checks."""
    parts = module.split(".")
    if parts[0] == "v4doctor_checks":
        return "checks"
    return "__init__" if len(parts) == 1 else parts[1]


GRAPH = {_module_name(p): _imports(p) for p in [*PKG.rglob("*.py"), *(ROOT / "checks").rglob("*.py")]}
KNOWN = set(GRAPH)


def _real(target: str) -> str | None:
    """The module an imported name is (v4doctor.api.check -> v4doctor.api), or None when it is not ours."""
    while target and target not in KNOWN:
        target = target.rpartition(".")[0]
    return target or None


def _part_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, deps in GRAPH.items():
        for dep in filter(None, map(_real, deps)):
            if _part(dep) != _part(mod):
                edges[_part(mod)].add(_part(dep))
    return edges


def test_the_root_holds_only_the_api_and_tiny_shared_modules():
    loose = sorted(p.stem for p in PKG.glob("*.py") if p.stem not in ROOT_MODULES)
    assert not loose, f"modules at the package root belong in a layer folder: {loose}"


def test_no_cycle_between_parts():
    edges = _part_edges()
    edges.pop("__init__", None)  # the package's lazy exports point at api, which is fine
    for deps in edges.values():
        deps.discard("__init__")  # `from v4doctor import __version__`
    seen: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle between parts: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in seen:
                visit(nxt)
        path.pop()
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node)


@pytest.mark.parametrize("face", sorted(FACES))
def test_only_the_faces_import_the_faces(face):
    allowed = {"cli", "__main__"} if face == "cli" else {"cli", "server"}
    bad = [(mod, dep) for mod, deps in GRAPH.items() for dep in filter(None, map(_real, deps))
           if _part(dep) == face and _part(mod) not in allowed]
    assert not bad, f"{face} is a face; these import it: {bad}"


@pytest.mark.parametrize("face", sorted(FACES))
def test_faces_go_through_the_api(face):
    bad = sorted({(mod, dep) for mod, deps in GRAPH.items() if _part(mod) == face
                  for dep in filter(None, map(_real, deps)) if _part(dep) not in FACE_MAY_USE})
    assert not bad, f"{face} must reach the library through v4doctor.api (or output/errors/config): {bad}"


def test_checks_import_no_collector_and_no_face():
    bad = sorted({(mod, dep) for mod, deps in GRAPH.items() if _part(mod) == "checks"
                  for dep in filter(None, map(_real, deps)) if _part(dep) in {"collect", "api", *FACES}})
    assert not bad, f"checks judge facts; they may not read the host or call a face: {bad}"


def test_nothing_below_the_faces_imports_the_api():
    bad = sorted({(mod, dep) for mod, deps in GRAPH.items() if _part(mod) not in {"api", "__init__", *FACES}
                  for dep in filter(None, map(_real, deps)) if _part(dep) == "api"})
    assert not bad, f"the api sits above every layer: {bad}"


def test_the_rules_see_a_planted_violation(tmp_path):
    """The graph reader finds function-level and relative imports (so a rule could fail)."""
    probe = PKG / "judge" / "_probe_violation.py"
    probe.write_text("def f():\n    from ..collect import gather\n    from v4doctor.cli import main\n")
    try:
        deps = {_real(d) for d in _imports(probe)}
    finally:
        probe.unlink()
    assert {"v4doctor.collect", "v4doctor.cli"} <= deps
