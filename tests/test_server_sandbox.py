"""No endpoint reads or writes the server's files or probes its host.

Two layers are tested: the sandbox itself (what it refuses inside a request, what it
allows), and the endpoints fed snapshots and plans that name real files on this machine,
watched by an independent audit hook that records every open of those files.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest
import requests

from conftest import HOSTS
from server_harness import LiveServer

pytest.importorskip("fastapi")

_watched: set[str] = set()
_opened: list[str] = []


def _watch(event, args):  # an audit hook of the test's own, independent of the sandbox
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], str) and args[0] in _watched:
        _opened.append(f"{event} {args[0]} in {threading.current_thread().name}")


sys.addaudithook(_watch)


@pytest.fixture(scope="module")
def server():
    with LiveServer() as s:
        yield s


@pytest.fixture
def sandbox():
    from v4doctor.server import sandbox as server_sandbox

    server_sandbox.install()
    server_sandbox.DENIED.clear()
    return server_sandbox


@pytest.mark.parametrize(
    "action, refused",
    [
        (lambda: open("/etc/hostname").read(), "reading '/etc/hostname'"),
        (lambda: open(__file__).read(), "reading"),  # the server's own files outside the package
        (lambda: subprocess.run(["nvidia-smi"]), "subprocess.Popen"),
        (lambda: socket.create_connection(("127.0.0.1", 9)), "socket"),
        (lambda: __import__("os").listdir("/"), "os.listdir '/'"),
        (lambda: __import__("ctypes").CDLL("libnvidia-ml.so.1"), "ctypes.dlopen"),
    ],
)
def test_the_sandbox_refuses_host_access_inside_a_request(sandbox, action, refused):
    with pytest.raises(PermissionError):
        sandbox.sandboxed(action)
    assert refused in sandbox.DENIED[-1]


def test_the_sandbox_refuses_writes_even_inside_the_package(sandbox, tmp_path):
    import v4doctor

    target = v4doctor.__file__ + ".written-by-a-request"
    with pytest.raises(PermissionError):
        sandbox.sandboxed(lambda: open(target, "w"))
    assert "writing" in sandbox.DENIED[-1]


def test_the_sandbox_allows_the_knowledge_base_and_only_applies_inside(sandbox):
    from v4doctor.knowledge.kb import KNOWLEDGE_DIR

    toml = next(KNOWLEDGE_DIR.glob("*.toml"))
    assert sandbox.sandboxed(lambda: toml.read_bytes())
    assert open("/etc/hostname").read() is not None  # outside a request: untouched
    assert not sandbox.DENIED


def _snapshot_naming(path: str) -> dict:
    snap = json.loads((HOSTS / "h200-x1.json").read_text())
    snap["target"].update({"model": path, "local_path": path, "compose_path": path, "config": {"architectures": ["DeepseekV4ForCausalLM"]}})
    return snap


def test_endpoints_never_open_a_path_named_in_the_input(server, sandbox, tmp_path):
    secret = tmp_path / "config.json"
    secret.write_text('{"server": "secret-config"}')
    paths = {str(tmp_path), str(secret), str(tmp_path / "docker-compose.yml")}
    _watched.update(paths)
    _opened.clear()
    compose = f"services:\n  v:\n    volumes: ['{tmp_path}:/m']\n"
    try:
        answers = [
            requests.post(server.url + "/v1/check", json={"snapshot": _snapshot_naming(str(tmp_path))}, timeout=30),
            requests.post(server.url + "/v1/check", json={"cmd": f"vllm serve {tmp_path}", "model": str(secret)}, timeout=30),
            requests.post(server.url + "/v1/diagnose", json={"text": f"Loading model from {secret}\n"}, timeout=30),
            requests.post(server.url + "/v1/fix", json={"text": f"vllm serve {tmp_path} --config {secret}"}, timeout=30),
            requests.post(server.url + "/v1/fix", json={"text": f"vllm serve {tmp_path}", "snapshot": _snapshot_naming(str(secret))},
                          headers={"Accept": "text/markdown"}, timeout=30),
            requests.post(server.url + "/v1/check", json={"snapshot": _snapshot_naming(str(secret)), "compose": compose},
                          headers={"Accept": "text/markdown"}, timeout=30),
        ]
    finally:
        _watched.difference_update(paths)
    assert [a.status_code < 500 or a.status_code == 503 for a in answers] == [True] * len(answers)
    assert not any("secret-config" in a.text for a in answers)
    assert _opened == [], "an endpoint opened a file named in its input"
    assert list(sandbox.DENIED) == [], "an endpoint tried to reach the host (refused by the sandbox)"
