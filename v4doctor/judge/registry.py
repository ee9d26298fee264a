"""Check registry: find -> load -> validate, in a fixed order, and the runner.

A check is a plain function decorated with `@check(...)`. Its parameters name the
facts it needs (`gpu`, `gpus`, `python`, `model`, `engine_version`, ...); the runner
passes them from the Context, records `skipped` when one is Unknown, and turns an
exception inside a check into an `error` finding that names the check.
Built-ins and third-party plugins both come through the entry-point group
`v4doctor.checks`; each entry point names a module whose `Check` objects are loaded.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from v4doctor.facts import NotApplicable, Unknown
from v4doctor.judge.findings import Finding, Severity

ENTRY_POINT_GROUP = "v4doctor.checks"
ID_PATTERN = re.compile(r"^V4D\d{3}$")
CATEGORIES = ("driver", "gpu", "engine", "memory", "disk", "system", "flags", "launch", "gguf", "hub", "docker", "endpoint", "fleet", "plugin")

# Names a check may ask for; each is an attribute of v4doctor.judge.context.Context.
CONTEXT_NAMES = frozenset(
    {
        "facts", "kb", "target", "gpu", "gpus", "system", "python", "binaries", "hub", "docker",
        "gguf", "model", "engine", "engine_version", "launch", "fit", "gpu_family",
        "fleet",  # a FleetFacts in `run --ray` (v4doctor/fleet/), NotApplicable elsewhere
    }
)


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    title: str
    category: str
    func: Callable[..., Any]
    params: tuple[str, ...]
    accepts_unknown: frozenset[str] = frozenset()
    troubleshooting: str | None = None
    sources: tuple[str, ...] = ()
    doc: str = ""
    module: str = ""

    def __call__(self, **kwargs):
        return self.func(**kwargs)


def check(
    id: str,
    *,
    title: str,
    category: str,
    troubleshooting: str | None = None,
    sources: Iterable[str] = (),
    accepts_unknown: Iterable[str] = (),
) -> Callable[[Callable[..., Any]], Check]:
    """Declare a check. The function's parameter names are the facts it needs."""

    def wrap(func: Callable[..., Any]) -> Check:
        params = tuple(inspect.signature(func).parameters)
        return Check(
            id=id,
            name=func.__name__.replace("_", "-"),
            title=title,
            category=category,
            func=func,
            params=params,
            accepts_unknown=frozenset(accepts_unknown),
            troubleshooting=troubleshooting,
            sources=tuple(sources),
            doc=inspect.cleandoc(func.__doc__ or ""),
            module=func.__module__,
        )

    return wrap


class CheckDefinitionError(ValueError):
    pass


def validate(c: Check) -> None:
    """Reject a malformed check when it loads, not when it runs."""
    problems = []
    if not ID_PATTERN.match(c.id):
        problems.append(f"id {c.id!r} is not of the form V4D123")
    if c.category not in CATEGORIES:
        problems.append(f"category {c.category!r} is not one of {', '.join(CATEGORIES)}")
    if not c.title.strip():
        problems.append("empty title")
    if not c.doc:
        problems.append("no docstring")
    bad = [p for p in c.params if p not in CONTEXT_NAMES]
    if bad:
        problems.append(f"unknown fact name(s) {', '.join(bad)}")
    if problems:
        raise CheckDefinitionError(f"check {c.id} ({c.module}.{c.func.__name__}): " + "; ".join(problems))


def checks_in_module(module: Any) -> list[Check]:
    return [v for v in vars(module).values() if isinstance(v, Check)]


@dataclass
class Registry:
    checks: list[Check] = field(default_factory=list)
    load_errors: list[Finding] = field(default_factory=list)

    def by_id(self, check_id: str) -> Check | None:
        key = check_id.upper()
        return next((c for c in self.checks if c.id == key or c.name == check_id), None)

    def matches_any(self, pattern: str) -> bool:
        """Whether a --select/--ignore entry names at least one check (id, id prefix, name or category)."""
        return any(_hit(c, pattern) for c in self.checks)

    def selectable_categories(self) -> set[str]:
        return {c.category for c in self.checks} | set(CATEGORY_GROUPS)

    def add(self, c: Check, origin: str) -> None:
        validate(c)
        clash = next((o for o in self.checks if o.id == c.id), None)
        if clash is not None:
            raise CheckDefinitionError(f"check id {c.id} from {origin} is already used by {clash.module}")
        self.checks.append(c)


def _entry_points():
    from importlib.metadata import entry_points

    eps = entry_points(group=ENTRY_POINT_GROUP)
    # Fixed order: built-ins first, then plugins, each by name.
    return sorted(eps, key=lambda ep: (not ep.value.startswith("v4doctor_checks"), ep.name))


def discover(entry_points: Iterable[Any] | None = None) -> Registry:
    """Find every registered check module, load it, validate its checks."""
    reg = Registry()
    for ep in _entry_points() if entry_points is None else entry_points:
        origin = f"{getattr(ep, 'value', ep)}"
        try:
            module = ep.load()
            for c in sorted(checks_in_module(module), key=lambda c: c.id):
                reg.add(c, origin)
        except Exception as exc:  # a broken plugin becomes a finding, never a crash
            reg.load_errors.append(_plugin_error(origin, exc))
    return reg


def _plugin_error(origin: str, exc: BaseException) -> Finding:
    dist = origin.split(".")[0].split(":")[0]
    return Finding(
        id="V4D000",
        severity=Severity.ERROR,
        category="plugin",
        title=f"check plugin {dist!r} failed to load",
        detail=f"{origin}: {type(exc).__name__}: {exc}",
        check="plugin-load",
    )


def selected(c: Check, select: Iterable[str], ignore: Iterable[str]) -> bool:
    """`--select`/`--ignore` take check ids (or id prefixes like V4D1), names or categories."""

    def hit(pattern: str) -> bool:
        return _hit(c, pattern)

    select = list(select)
    if select and not any(hit(p) for p in select):
        return False
    return not any(hit(p) for p in ignore)


# A category that the report shows under a wider heading selects what stands under it: the report's
# "Launch flags" are launch checks too, so `--select launch` runs them.
CATEGORY_GROUPS = {"launch": ("launch", "flags")}


def _hit(c: Check, pattern: str) -> bool:
    p = pattern.strip()
    low = p.lower()
    return bool(p) and (c.id.startswith(p.upper()) or p == c.name or low == c.category
                        or c.category in CATEGORY_GROUPS.get(low, ()))


def run_checks(ctx: Any, checks: Iterable[Check], select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[Finding]:
    findings: list[Finding] = []
    select, ignore = list(select), list(ignore)
    for c in checks:
        if selected(c, select, ignore):
            findings.extend(run_one(ctx, c))
    return findings


def run_one(ctx: Any, c: Check) -> list[Finding]:
    kwargs = {}
    for name in c.params:
        value = ctx.get(name)
        if isinstance(value, NotApplicable) and name not in c.accepts_unknown:
            return []  # the check does not apply to this target: say nothing
        if isinstance(value, Unknown) and name not in c.accepts_unknown:
            return [_stamp(c, Finding("", Severity.SKIPPED, "", c.title, f"{name} unknown, because {value.reason}"))]
        kwargs[name] = value
    try:
        result = c.func(**kwargs)
    except Exception as exc:  # one bad check never stops a run
        return [_stamp(c, Finding("", Severity.ERROR, "", f"check {c.id} ({c.name}) crashed", f"{type(exc).__name__}: {exc}"))]
    if isinstance(result, NotApplicable):
        return []  # the check found that it does not apply to this target
    if result is None:
        result = []
    elif isinstance(result, Finding):
        result = [result]
    found = [_stamp(c, f) for f in result]
    return found or [_stamp(c, Finding("", Severity.OK, "", c.title))]


def _stamp(c: Check, f: Finding) -> Finding:
    f.id = f.id or c.id
    f.category = f.category or c.category
    f.check = c.name
    if f.troubleshooting is None and f.severity in (Severity.ERROR, Severity.WARNING):
        f.troubleshooting = c.troubleshooting
    if not f.sources:
        f.sources = list(c.sources)
    return f
