"""Static (AST) readers for tools/gen_flags.py: vLLM and SGLang wheels, read without running them.

The wheels need a CUDA torch to run, so the flags come from their sources: vLLM's
`engine/arg_utils.py` add_argument calls with the config dataclasses behind `**kwargs[...]`,
SGLang's `server_args.py` add_argument calls and (>= 0.5.2x) its `arg_groups` field structs.
"""

from __future__ import annotations

import ast
import re
import zipfile
from pathlib import Path

from flag_readers import _key, _record


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
    if re.search(r"store_?(true|false)", action, re.I):  # also SGLang's DeprecatedStoreTrueAction (a switch)
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
