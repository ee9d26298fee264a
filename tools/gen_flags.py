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
import ast
import datetime as _dt
import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent / "v4doctor" / "knowledge" / "flags"


def _record(names, *, value, nargs=None, choices=None, strict=False, negations=(), fields=None) -> dict:
    return {
        "names": list(dict.fromkeys(names)),
        "negations": list(dict.fromkeys(negations)),
        "value": bool(value),
        "nargs": nargs,
        "choices": list(choices) if choices is not None else None,
        "strict": bool(strict and choices is not None),
        "fields": sorted(set(fields)) if fields else None,
    }


def _key(names: list[str]) -> str:
    longs = [n for n in names if n.startswith("--")] or names
    return longs[0].lstrip("-")


# --------------------------------------------------------------------------- vLLM --help=all
_OPT_LINE = re.compile(r"^  (-[^ ].*)$")
_NEGATION = re.compile(r"^--(no-|disable-)")


def _split_opts(line: str) -> tuple[str, str]:
    """`--a A, -x A    help` -> ("--a A, -x A", "help")."""
    m = re.search(r" {2,}", line)
    return (line[: m.start()], line[m.end():]) if m else (line, "")


def _parse_part(part: str) -> tuple[str, str | None]:
    name, _, metavar = part.partition(" ")
    return name, metavar or None


def _help_record(opts: str, desc: str) -> tuple[str, dict]:
    parts = [_parse_part(p) for p in re.split(r", (?=-)", opts)]
    first_name, first_meta = parts[0]
    names, negations = [first_name], []
    for name, _meta in parts[1:]:
        positive = first_name.startswith("--enable-") and name.startswith("--disable-")
        (negations if (name.startswith("--no-") or positive) and first_meta is None else names).append(name)
    choices, strict, nargs = None, False, None
    if first_meta:
        if first_meta.startswith("{"):
            choices, strict = first_meta.strip("{}").split(","), True
        elif first_meta.startswith("['"):
            choices = [str(c) for c in ast.literal_eval(first_meta)]
        if "..." in first_meta:
            nargs = "+"
        elif first_meta.startswith("[") and not choices:
            nargs = "?"
    fields = None
    if "valid JSON string" in desc:
        m = re.search(r"default:\s*\w+\((.*)\)\)?\s*$", desc, re.S)
        fields = re.findall(r"(\w+)=", m.group(1)) if m else None
    return _key(names), _record(names, value=first_meta is not None, nargs=nargs, choices=choices, strict=strict,
                                negations=negations, fields=fields)


def from_vllm_help(text: str) -> dict:
    flags: dict[str, dict] = {}
    current: list[str] | None = None
    for line in text.splitlines() + ["  -END"]:
        m = _OPT_LINE.match(line)
        if m or (line and not line.startswith("   ")):
            if current:
                key, rec = _help_record(current[0], " ".join(current[1:]))
                flags.setdefault(key, rec)
            current = None
            if m:
                opts, desc = _split_opts(m.group(1))
                current = [opts, desc]
        elif current is not None:
            current.append(line.strip())
    flags.pop("END", None)
    flags.pop("help", None)
    return flags


# --------------------------------------------------------------------------- vLLM wheel (static)
class _Classes:
    """Dataclass fields and Literal aliases from a set of modules, read with `ast`."""

    def __init__(self, sources: dict[str, str]):
        self.fields: dict[str, dict[str, ast.expr]] = {}
        self.bases: dict[str, list[str]] = {}
        self.aliases: dict[str, ast.expr] = {}
        for src in sources.values():
            self._read(ast.parse(src))

    def _read(self, tree: ast.Module) -> None:
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.aliases.setdefault(node.targets[0].id, node.value)
            if isinstance(node, ast.ClassDef):
                self.bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
                self.fields[node.name] = {
                    s.target.id: s.annotation for s in node.body
                    if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and not s.target.id.startswith("_")
                }

    def all_fields(self, cls: str) -> dict[str, ast.expr]:
        out: dict[str, ast.expr] = {}
        for base in self.bases.get(cls, []):
            out.update(self.all_fields(base))
        out.update(self.fields.get(cls, {}))
        return out

    def literal_values(self, node: ast.expr, depth: int = 0) -> tuple[list[str], bool]:
        """(Literal values, also accepts str) of an annotation such as `TokenizerMode | str`."""
        if depth > 6:
            return [], False
        if isinstance(node, ast.BinOp):
            a, sa = self.literal_values(node.left, depth + 1)
            b, sb = self.literal_values(node.right, depth + 1)
            return a + b, sa or sb
        if isinstance(node, ast.Name):
            if node.id == "str":
                return [], True
            if node.id in self.aliases:
                return self.literal_values(self.aliases[node.id], depth + 1)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "Literal":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            vals: list[str] = []
            for e in elts:
                if isinstance(e, ast.Constant):
                    vals.append(str(e.value))
                else:
                    vals += self.literal_values(e, depth + 1)[0]
            return vals, False
        return [], False

    def kind(self, annotation: ast.expr) -> str:
        text = ast.unparse(annotation)
        names = set(re.findall(r"[A-Za-z_]\w*", text))
        if any(n in self.fields and n.endswith("Config") for n in names):
            return "config"
        if "bool" in names:
            return "bool"
        if names & {"list", "tuple", "List", "Tuple"}:
            return "list"
        return "value"


def _field_record(names: list[str], field: str, cls: str, classes: _Classes) -> dict:
    ann = classes.all_fields(cls).get(field)
    if ann is None:
        return _record(names, value=True)
    kind = classes.kind(ann)
    if kind == "bool":
        negs = [f"--no-{n[2:]}" for n in names if n.startswith("--")]
        return _record(names, value=False, negations=negs)
    if kind == "config":
        sub = next(n for n in re.findall(r"[A-Za-z_]\w*", ast.unparse(ann)) if n in classes.fields)
        return _record(names, value=True, fields=list(classes.all_fields(sub)))
    choices, has_str = classes.literal_values(ann)
    return _record(names, value=True, nargs="+" if kind == "list" else None, choices=choices or None, strict=not has_str)


def _call_names(call: ast.Call) -> list[str]:
    return [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value.startswith("-")]


def _explicit_record(call: ast.Call, names: list[str]) -> dict | None:
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    action = ast.unparse(kw["action"]) if "action" in kw else ""
    if "store_true" in action or "store_false" in action:
        return _record(names, value=False)
    if "BooleanOptionalAction" in action:
        return _record(names, value=False, negations=[f"--no-{n[2:]}" for n in names if n.startswith("--")])
    choices = None
    if isinstance(kw.get("choices"), (ast.List, ast.Tuple)):
        choices = [str(e.value) for e in kw["choices"].elts if isinstance(e, ast.Constant)]
    nargs = kw["nargs"].value if isinstance(kw.get("nargs"), ast.Constant) else None
    if nargs == 0:
        return _record(names, value=False)
    return _record(names, value=True, nargs=nargs, choices=choices, strict=choices is not None)


def _kwargs_classes(tree: ast.AST) -> dict[str, str]:
    """`model_kwargs = get_kwargs(ModelConfig)` -> {"model_kwargs": "ModelConfig"}."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            fn = node.value.func
            if isinstance(fn, ast.Name) and fn.id == "get_kwargs" and node.value.args and isinstance(node.value.args[0], ast.Name):
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        out[t.id] = node.value.args[0].id
    return out


def _add_argument_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            yield node


def _vllm_arg_utils(src: str, classes: _Classes) -> dict:
    tree = ast.parse(src)
    kw_classes = _kwargs_classes(tree)
    flags: dict[str, dict] = {}
    for call in _add_argument_calls(tree):
        names = _call_names(call)
        if not names:
            continue
        star = next((k.value for k in call.keywords if k.arg is None), None)
        if isinstance(star, ast.Dict):  # **{**cache_kwargs["enable_prefix_caching"], "default": None}
            star = next((v for k, v in zip(star.keys, star.values) if k is None), None)
        rec = None
        if isinstance(star, ast.Subscript) and isinstance(star.value, ast.Name) and isinstance(star.slice, ast.Constant):
            cls = kw_classes.get(star.value.id)
            rec = _field_record(names, star.slice.value, cls, classes) if cls else None
        flags.setdefault(_key(names), rec or _explicit_record(call, names))
    return flags


def from_vllm_wheel(path: Path) -> tuple[dict, str]:
    with zipfile.ZipFile(path) as zf:
        py = {n: zf.read(n).decode() for n in zf.namelist() if n.endswith(".py") and (
            n.startswith("vllm/config/") or n.startswith("vllm/entrypoints/") or n == "vllm/engine/arg_utils.py")}
        version = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        version = re.search(r"^Version: (\S+)", zf.read(version).decode(), re.M).group(1)
    classes = _Classes(py)
    flags = _vllm_arg_utils(py["vllm/engine/arg_utils.py"], classes)
    for cls in ("FrontendArgs",):
        for field in classes.all_fields(cls):
            names = [f"--{field.replace('_', '-')}"]
            flags.setdefault(_key(names), _field_record(names, field, cls, classes))
    for name in ("vllm/entrypoints/cli/serve.py", "vllm/entrypoints/openai/cli_args.py"):
        for call in _add_argument_calls(ast.parse(py[name])):
            names = _call_names(call)
            if names:
                flags.setdefault(_key(names), _explicit_record(call, names))
    flags.setdefault("model", _record(["--model"], value=True))
    return flags, version


# --------------------------------------------------------------------------- SGLang wheel (static)
def _module_lists(tree: ast.Module) -> dict[str, list[str]]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Tuple)):
            vals = [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            for t in node.targets:
                if isinstance(t, ast.Name) and vals:
                    out[t.id] = vals
    return out


def _arg_meta(meta: ast.expr) -> dict:
    """`Arg(help=..., aliases=[...], cli_name=..., choices=[...], action=..., no_cli=True)` -> its constant kwargs."""
    if not (isinstance(meta, ast.Call) and getattr(meta.func, "id", "") == "Arg"):
        return {}
    out = {}
    for k in meta.keywords:
        try:
            out[k.arg] = ast.literal_eval(k.value)
        except ValueError:
            out[k.arg] = ast.unparse(k.value)
    return out


def _sglang_field(name: str, ann: ast.Subscript, classes: _Classes) -> tuple[str, dict] | None:
    """One `field: A[type, "help" | Arg(...)]` of an SGLang >= 0.5.2x arg_groups struct."""
    elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else []
    if len(elts) < 2:
        return None
    meta = _arg_meta(elts[1])
    if meta.get("no_cli") is True:
        return None
    names = [meta.get("cli_name") or f"--{name.replace('_', '-')}", *(meta.get("aliases") or [])]
    kind = classes.kind(elts[0])
    if meta.get("action") and "store_true" not in str(meta["action"]) or (kind == "bool" and not meta.get("action")):
        return _key(names), _record(names, value=False)
    choices, has_str = classes.literal_values(elts[0])
    choices = meta.get("choices") if isinstance(meta.get("choices"), list) else (choices or None)
    nargs = meta.get("nargs") or ("+" if kind == "list" else None)
    return _key(names), _record(names, value=True, nargs=nargs, choices=choices, strict=choices is not None)


def _sglang_struct_flags(sources: dict[str, str]) -> dict:
    classes = _Classes(sources)
    flags: dict[str, dict] = {}
    for cls, fields in classes.fields.items():
        for name, ann in fields.items():
            if isinstance(ann, ast.Subscript) and getattr(ann.value, "id", "") == "A":
                got = _sglang_field(name, ann, classes)
                if got:
                    flags.setdefault(*got)
    return flags


def from_sglang_wheel(path: Path) -> tuple[dict, str]:
    with zipfile.ZipFile(path) as zf:
        src = zf.read("sglang/srt/server_args.py").decode()
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        version = re.search(r"^Version: (\S+)", zf.read(meta).decode(), re.M).group(1)
        structs = {n: zf.read(n).decode() for n in zf.namelist()
                   if n.startswith("sglang/srt/arg_groups/") and n.endswith(".py")}
    tree = ast.parse(src)
    lists = _module_lists(tree)
    flags: dict[str, dict] = {}
    for call in _add_argument_calls(tree):
        names = _call_names(call)
        if not names:
            continue
        rec = _explicit_record(call, names)
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        if rec["value"] and isinstance(kw.get("choices"), ast.Name) and kw["choices"].id in lists:
            rec.update(choices=lists[kw["choices"].id], strict=True)
        flags.setdefault(_key(names), rec)
    for key, rec in _sglang_struct_flags(structs).items():
        flags.setdefault(key, rec)
    return flags, version


# --------------------------------------------------------------------------- llama.cpp (arg.cpp)
_LLAMA_ARG = re.compile(r"common_arg\(\s*((?:\{[^}]*\}\s*,\s*)+)(.*?)\[[^\]]*\]\s*\(([^)]*)\)", re.S)


def from_llama_arg_cpp(src: str) -> dict:
    """Options of `common_arg({"-m", "--model"}, "FNAME", "help", [](common_params & params, const std::string & value)`."""
    flags: dict[str, dict] = {}
    for m in _LLAMA_ARG.finditer(src):
        lists = [re.findall(r'"(-[^"]+)"', b) for b in re.findall(r"\{([^}]*)\}", m.group(1))]
        if not lists or not lists[0]:
            continue
        params = [p.strip() for p in m.group(3).split(",")]
        value = len(params) > 1 and not params[1].startswith("bool")
        meta = re.match(r'\s*"([^"]*)"\s*,', m.group(2))
        metavar = meta.group(1) if value and meta else None
        choices = metavar.strip("[]").split("|") if metavar and metavar.startswith("[") and "|" in metavar else None
        negs = lists[1] if len(lists) > 1 else []
        flags.setdefault(_key(lists[0]), _record(lists[0], value=value, choices=choices, negations=negs))
    return flags


def from_llama_sdist(path: Path) -> tuple[dict, str, str]:
    with tarfile.open(path) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith("vendor/llama.cpp/common/arg.cpp"))
        src = tf.extractfile(member).read().decode()
        build = next((m for m in tf.getmembers() if m.name.endswith("vendor/llama.cpp/CMakeLists.txt")), None)
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
