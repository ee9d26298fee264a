"""The check registry: discovery through entry points, validation, the runner's guarantees."""

from types import SimpleNamespace

import pytest

from v4doctor.facts import Unknown
from v4doctor.judge.findings import Severity, error, warning
from v4doctor.judge.registry import CheckDefinitionError, Registry, check, discover, run_checks, selected, validate


@check("V4D901", title="needs gpus", category="gpu", troubleshooting="gpu-busy", sources=["https://example.invalid/src"])
def _needs_gpus(gpus):
    """Hit when the first GPU is busy."""
    if gpus and gpus[0] == "busy":
        return warning("GPU 0 is busy", "other processes hold memory")
    return None


@check("V4D902", title="crashes", category="system")
def _crashes(system):
    """Always raises, to prove one bad check never stops a run."""
    raise RuntimeError("boom")


class _Ctx:
    def __init__(self, **values):
        self.values = values

    def get(self, name):
        return self.values.get(name, Unknown(f"{name} not given"))


def test_runner_passes_named_facts_and_stamps_id_category_row_sources():
    [f] = run_checks(_Ctx(gpus=["busy"]), [_needs_gpus])
    assert (f.id, f.category, f.severity, f.check) == ("V4D901", "gpu", Severity.WARNING, "-needs-gpus")
    assert f.troubleshooting == "gpu-busy" and f.sources == ["https://example.invalid/src"]


def test_healthy_check_gives_ok_and_unknown_fact_gives_skipped_with_reason():
    [ok] = run_checks(_Ctx(gpus=["idle"]), [_needs_gpus])
    assert ok.severity is Severity.OK
    [sk] = run_checks(_Ctx(), [_needs_gpus])
    assert sk.severity is Severity.SKIPPED and "gpus unknown, because gpus not given" in sk.detail


def test_a_crashing_check_becomes_an_error_and_the_run_goes_on():
    found = run_checks(_Ctx(system=1, gpus=["busy"]), [_crashes, _needs_gpus])
    assert [f.id for f in found] == ["V4D902", "V4D901"]
    assert found[0].severity is Severity.ERROR and "RuntimeError: boom" in found[0].detail


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(id="X1", title="t", category="gpu"), "not of the form V4D123"),
        (dict(id="V4D903", title="t", category="nope"), "category 'nope'"),
        (dict(id="V4D903", title=" ", category="gpu"), "empty title"),
    ],
)
def test_validate_rejects_malformed_checks(kwargs, message):
    def f(gpus):
        """doc"""

    with pytest.raises(CheckDefinitionError, match=message):
        validate(check(**kwargs)(f))


def test_validate_rejects_unknown_fact_names_and_missing_docstrings():
    def f(gpu_list):
        pass

    with pytest.raises(CheckDefinitionError) as err:
        validate(check("V4D904", title="t", category="gpu")(f))
    assert "no docstring" in str(err.value) and "unknown fact name(s) gpu_list" in str(err.value)


def test_duplicate_ids_are_refused():
    reg = Registry()
    reg.add(_needs_gpus, "a")
    with pytest.raises(CheckDefinitionError, match="already used"):
        reg.add(_needs_gpus, "b")


def test_a_plugin_that_fails_to_load_becomes_a_finding_naming_it():
    class _EP:
        value = "broken_plugin.checks"

        def load(self):
            raise ImportError("No module named 'broken_plugin'")

    good = SimpleNamespace(value="v4doctor_checks_test", load=lambda: SimpleNamespace(c=_needs_gpus))
    reg = discover([_EP(), good])
    assert [c.id for c in reg.checks] == ["V4D901"]
    [f] = reg.load_errors
    assert f.severity is Severity.ERROR and "broken_plugin" in f.title and "ImportError" in f.detail


@pytest.mark.parametrize(
    "select, ignore, expected",
    [((), (), True), (("V4D9",), (), True), (("gpu",), (), True), (("V4D1",), (), False),
     ((), ("V4D901",), False), ((), ("gpu",), False), (("-needs-gpus",), (), True)],
)
def test_select_and_ignore_by_id_prefix_name_or_category(select, ignore, expected):
    assert selected(_needs_gpus, select, ignore) is expected


def test_builtin_checks_come_through_entry_points():
    reg = discover()
    assert not reg.load_errors, [f.detail for f in reg.load_errors]
    assert all(c.module.startswith("v4doctor_checks.") for c in reg.checks)
    assert len({c.id for c in reg.checks}) == len(reg.checks)


@check("V4D905", title="applies only sometimes", category="hub")
def _sometimes(hub):
    """Returns NotApplicable when the fact it needs does not concern this target."""
    from v4doctor.facts import NotApplicable

    return NotApplicable("a local checkpoint: nothing to ask the hub") if hub == "local" else None


def test_not_applicable_facts_and_results_make_a_check_silent():
    from v4doctor.facts import NotApplicable

    assert run_checks(_Ctx(gpus=NotApplicable("not a GGUF")), [_needs_gpus]) == []
    assert run_checks(_Ctx(hub="local"), [_sometimes]) == []
    assert [f.severity for f in run_checks(_Ctx(hub="remote"), [_sometimes])] == [Severity.OK]
