"""The CLI's one error boundary: usage errors are one line and exit 2, never a traceback."""

import subprocess
import sys

import pytest

from conftest import run_cli


def test_version(cli):
    r = cli("--version")
    assert r.code == 0 and r.out.startswith("v4doctor ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (("run", "--model", "foo/bar"), "unknown model 'foo/bar'"),
        (("run", "--engine", "tgi"), "unknown engine 'tgi'"),
        (("run", "--cmd", "vllm serve 'unterminated"), "cannot parse --cmd"),
        (("run", "--facts", "/nonexistent/facts.json"), "cannot read facts file"),
        (("run", "--bogus-flag"), "unrecognized arguments: --bogus-flag"),
        (("explain", "V4D999"), "log signature or troubleshooting row called 'V4D999'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, argv, message):
    r = cli(*argv)
    assert r.code == 2
    assert message in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_malformed_facts_file(cli, tmp_path):
    bad = tmp_path / "facts.json"
    bad.write_text("{not json")
    r = cli("run", "--facts", str(bad))
    assert r.code == 2 and "is not valid JSON" in r.err
    bad.write_text('{"target": {"model": "flash", "engine": "vllm"}, "schema_version": 1, "gpu": 5}')
    r = cli("run", "--facts", str(bad))
    assert r.code == 2 and "facts.gpu" in r.err


def test_settings_file_selects_checks(cli, tmp_path, monkeypatch):
    (tmp_path / ".v4doctor.toml").write_text('select = ["driver"]\n')
    monkeypatch.chdir(tmp_path)
    r = cli("run", "--json")
    assert r.code in (0, 1)
    assert {f["category"] for f in r.json()["findings"]} <= {"driver", "plugin"}
    (tmp_path / ".v4doctor.toml").write_text('colour = "red"\n')
    r = cli("run")
    assert r.code == 2 and "unknown v4doctor setting(s): colour" in r.err


def test_console_script_runs_as_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "v4doctor", "run", "--model", "nope"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("v4doctor: error: unknown model 'nope'")


def test_explain_knows_checks_signatures_probe_findings_and_rows(cli):
    from v4doctor.knowledge.kb import load

    kb = load()
    sig = kb.records("signature")[0]
    r = cli("explain", sig["id"].lower())
    assert r.code == 0 and r.out.startswith(f"{sig['id']} ({sig['category']}") and f"troubleshooting row: {sig.get('troubleshooting')}" in r.out
    r = cli("explain", "V4D552")
    assert r.code == 0 and "reported by `v4doctor probe`" in r.out
    row = next(r for r in kb.records("row") if r.get("guide_says") and r.get("detectors"))
    r = cli("explain", row["id"])
    assert r.code == 0 and r.out.startswith(f"{row['id']}: {row['symptom']}")
    assert f"the guide says: {row['guide_says']}" in r.out and f"detected by: {', '.join(row['detectors'])}" in r.out
    r = cli("explain", "V4D101")
    assert r.code == 0 and r.out.startswith("V4D101 ")
