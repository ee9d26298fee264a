"""`v4doctor serve` as a user runs it: a subprocess on a free port, its token file and its logs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from conftest import ROOT, run_cli

pytest.importorskip("uvicorn")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            requests.get(url + "/healthz", timeout=0.5)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("serve did not come up")


@pytest.mark.parametrize("workers", [1, 2])  # 2: worker processes get the settings and re-read the token
def test_serve_answers_with_a_token_and_logs_json_lines(tmp_path, workers):
    token = "cli-token-abcdefghijklmnop"
    (tmp_path / "token").write_text(token + "\n")
    port = _free_port()
    cmd = [sys.executable, "-m", "v4doctor", "serve", "--port", str(port), "--token-file", str(tmp_path / "token"), "--max-body-bytes", "2048",
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, proc)
        auth = {"Authorization": f"Bearer {token}"}
        assert requests.get(url + "/v1/checks", timeout=5).status_code == 401
        assert requests.get(url + "/v1/checks", headers=auth, timeout=5).status_code == 200
        big = requests.post(url + "/v1/diagnose", json={"text": "x" * 4096}, headers=auth, timeout=5)
        assert big.status_code == 413 and "2048 bytes" in big.json()["error"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    access = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [(a["path"], a["status"]) for a in access if a["path"] != "/healthz"] == [("/v1/checks", 401), ("/v1/checks", 200), ("/v1/diagnose", 413)]
    assert token not in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--token-file", "/nonexistent/token"], "cannot read token file"),
        (["--port", "70000"], "is not a TCP port"),
        (["--max-body-bytes", "10"], "--max-body-bytes must be at least 1024"),
        (["--timeout", "0"], "--timeout must be between"),
        (["--threads", "0"], "--threads must be between"),
    ],
)
def test_bad_serve_options_are_one_line_and_exit_2(argv, message):
    result = run_cli("serve", *argv)
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1


def test_a_short_token_is_refused(tmp_path):
    (tmp_path / "token").write_text("short\n")
    result = run_cli("serve", "--token-file", str(tmp_path / "token"))
    assert result.code == 2 and "at least 16 characters" in result.err


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "v4doctor", "serve", "--port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert f"cannot serve on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
