"""What a new user trips on (issue 11's face list): each case failed before it was fixed."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import socket
import subprocess
import sys
import time

import pytest

from conftest import HOSTS, ROOT, run_cli

SNAP = str(HOSTS / "h200-x1.json")
NOGPU = str(HOSTS / "laptop-nogpu.json")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
ENV.pop("NO_COLOR", None)


OUTSIDE = "|".join([r"\.\./" + "sha" + "red", r'parent / "' + "sha" + 'red"', r"ROOT\.parent"])  # spelled in parts: this file is not a reader


def test_tests_read_nothing_outside_the_repository():
    """A clean clone has no shared folder beside it: the suite carries copies (fixtures/guide, fixtures/engines)."""
    offenders = [p.name for p in (ROOT / "tests").glob("*.py") if p.name != "test_face.py"
                 and re.search(OUTSIDE, p.read_text())]
    assert not offenders


@pytest.mark.parametrize("flag", ["--select", "--ignore"])
def test_a_selection_that_matches_no_check_is_a_usage_error(flag):
    r = run_cli("run", "--facts", SNAP, flag, "nonsense")
    assert r.code == 2 and "nonsense" in r.err and "categories:" in r.err and "gpu" in r.err
    assert "Ready to deploy" not in r.out


def test_select_launch_runs_the_launch_flag_checks_too():
    ids = {f["id"] for f in run_cli("run", "--facts", SNAP, "--select", "launch", "--json",
                                    "--cmd", "vllm serve deepseek-ai/DeepSeek-V4-Flash --max-num-batchd-tokens 8192").json()["findings"]}
    from v4doctor import api

    flag_ids = {c["id"] for c in api.checks()["checks"] if c["category"] == "flags"}
    assert flag_ids and flag_ids <= ids


def _tty_run(argv: list[str], env: dict) -> str:
    """Run the CLI on a pseudo-terminal (so rich may colour) and return what it printed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "v4doctor", *argv], stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                            env={**env, "TERM": "xterm-256color", "COLUMNS": "120"}, cwd=ROOT)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_color_is_honoured_on_a_terminal():
    coloured = _tty_run(["run", "--facts", SNAP], ENV)
    assert "\x1b[" in coloured, "on a terminal the report is coloured"
    assert "\x1b[" not in _tty_run(["run", "--facts", SNAP], {**ENV, "NO_COLOR": "1"})
    assert "\x1b[" not in _tty_run(["run", "--facts", SNAP, "--no-color"], ENV)


def test_quiet_prints_only_errors_and_the_summary():
    full = run_cli("run", "--facts", SNAP)
    quiet = run_cli("run", "--facts", SNAP, "-q")
    assert quiet.code == full.code == 1
    lines = [l for l in quiet.out.splitlines() if l.strip()]
    assert lines[-1] == [l for l in full.out.splitlines() if l.strip()][-1]  # the same summary line
    assert re.search(r"\d+ error\(s\), \d+ warning\(s\)", lines[-1])
    assert not any(l.lstrip().startswith(("!", "?", "[")) for l in lines), "no warnings, skips or area headings"
    assert any("✗" in l for l in lines)


def test_fix_write_twice_keeps_the_original(tmp_path):
    compose = tmp_path / "docker-compose.yml"
    original = (ROOT / "fixtures" / "launch" / "guide-option-b-pro.yaml").read_text()
    compose.write_text(original)
    assert run_cli("fix", "--compose", str(compose), "--facts", SNAP, "--write").code == 0
    once = compose.read_text()
    assert once != original
    compose.write_text(once.replace("shm_size", "shm_size") + "# edited by hand\n")
    run_cli("fix", "--compose", str(compose), "--facts", SNAP, "--write")
    backups = sorted(p for p in tmp_path.iterdir() if p.name.startswith("docker-compose.yml.bak"))
    assert any(p.read_text() == original for p in backups), "the first original survives a second --write"


def test_readme_ollama_hub_quant_example_runs():
    r = run_cli("run", "--facts", NOGPU, "--engine", "ollama", "--model", "hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL", "--json")
    assert r.code in (0, 1), r.err
    assert "unsloth/DeepSeek-V4-Flash-GGUF" in json.dumps(r.json()["target"])


def test_unknown_model_error_points_at_a_command_that_exists():
    r = run_cli("run", "--facts", SNAP, "--model", "deepseek-ai/DeepSeek-V9")
    assert r.code == 2
    named = re.findall(r"`v4doctor (\w+)`", r.err)
    assert named and all(run_cli(cmd).code == 0 for cmd in named)


def test_serve_without_fastapi_says_how_to_install_it_in_any_setup():
    code = ("import sys; sys.modules['uvicorn'] = None; from v4doctor.cli import main; sys.exit(main(['serve']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=60)
    assert r.returncode == 2
    assert "pip install fastapi uvicorn" in r.stderr and "pipx inject" in r.stderr


def test_an_unreachable_hub_is_reported_offline_at_once(monkeypatch):
    with socket.socket() as s:  # a port with nobody listening: connect is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**ENV, "HF_ENDPOINT": f"http://127.0.0.1:{port}"}
    env.pop("HF_HUB_OFFLINE")
    started = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "v4doctor", "run", "--json", "--select", "hub"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    elapsed = time.monotonic() - started
    hub = [f for f in json.loads(r.stdout)["findings"] if f["id"] == "V4D422"]
    assert hub and "offline" in hub[0]["title"] and "cannot connect" in hub[0]["detail"]
    assert elapsed < 60  # a guard against a hang, not a timing assertion


def test_gather_tells_progress_which_areas_are_still_being_read():
    from v4doctor.collect import gather
    from v4doctor.facts import TargetFacts

    heard: list[str] = []
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    gather(TargetFacts(model="flash", engine="vllm"), [], progress=heard.append)
    assert heard and heard[0].startswith("reading ") and "the Hugging Face hub" in heard[0]


def test_a_path_that_does_not_exist_is_not_reported_as_having_free_space(tmp_path):
    missing = tmp_path / "not" / "there"
    r = run_cli("run", "--path", str(missing), "--select", "V4D211", "--json")
    titles = [f["title"] for f in r.json()["findings"] if f["id"] == "V4D211" and str(missing) in f["title"]]
    assert all("does not exist yet" in t and f"free at {tmp_path}" in t for t in titles)


def test_api_key_env_names_the_variable():
    os.environ.pop("V4D_TEST_KEY_VAR", None)
    r = run_cli("probe", "http://127.0.0.1:9", "--api-key-env", "V4D_TEST_KEY_VAR")
    assert r.code == 2 and "V4D_TEST_KEY_VAR" in r.err and "REDACTED" not in r.err


def test_sglang_text_does_not_cite_a_vllm_floor():
    r = run_cli("run", "--facts", NOGPU, "--engine", "sglang", "--select", "V4D101")
    assert r.code == 1 and "SGLang" in r.out and "vLLM" not in r.out


def test_verbose_sources_are_public_urls():
    r = run_cli("run", "--facts", SNAP, "-v", "--cmd", "vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 1 --max-model-len 1048576")
    sources = [l.split("source:", 1)[1].strip() for l in r.out.splitlines() if "source:" in l]
    assert sources and all(s.startswith(("https://", "http://")) for s in sources)
    assert "shared/" not in r.out and "tools/gen_flags.py" not in r.out


def test_pro_to_flash_fix_says_clients_now_get_flash():
    r = run_cli("fix", "--cmd", "vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 1", "--facts", SNAP, "--json")
    data = r.json()
    if "fix-pro-to-flash" not in data["applied"]:
        pytest.fail(f"expected the Pro -> Flash fix on one H200: {data['applied']}")
    assert any("clients that ask for deepseek-ai/DeepSeek-V4-Pro get" in n for n in data["notes"])


@pytest.mark.parametrize("version,ok", [("banana", False), ("0.33.0", True), ("0.33.0+cu129", True), ("v0.5.23", True), ("b9840", True), ("1" * 100, False)])
def test_engine_version_must_look_like_a_version(version, ok):
    r = run_cli("run", "--facts", SNAP, "--engine-version", version, "--json")
    assert (r.code != 2) == ok, r.err
    if not ok:
        assert "is not a version" in r.err


def test_diagnose_refuses_random_bytes(tmp_path):
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(2 << 20))
    r = run_cli("diagnose", str(noise))
    assert r.code == 2 and "not a text log" in r.err
    piped = subprocess.run([sys.executable, "-m", "v4doctor", "diagnose"], input=noise.read_bytes(), capture_output=True, env=ENV, cwd=ROOT, timeout=60)
    assert piped.returncode == 2 and b"not a text log" in piped.stderr
