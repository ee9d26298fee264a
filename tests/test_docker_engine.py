"""A recorded Docker Engine API served on a unix socket, for the real `docker` SDK.

`FakeEngine(scenario)` serves `fixtures/docker/<scenario>/` (see its README for where each
response shape comes from) with a threaded HTTP/1.1 server bound to an AF_UNIX socket:
`/_ping`, `/version`, `/info`, `/containers/json`, `/containers/{id}/json`,
`/containers/{id}/logs` (8-byte multiplexed frames when the container has no TTY) and
`/images/{id}/json`, with or without a `/v1.NN` prefix. The tests at the bottom check the
server itself through the SDK, so a broken fake cannot make the collector tests pass.
"""

from __future__ import annotations

import json
import os
import re
import socketserver
import struct
import tempfile
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import FIXTURES

DOCKER_FIXTURES = FIXTURES / "docker"
_VERSIONED = re.compile(r"^/v\d+\.\d+(/.*)$")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path
    requests: list[str]

    def log_message(self, *args):  # AF_UNIX peers have no address to log
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        path = _VERSIONED.sub(r"\1", parts.path)
        self.requests.append(path)
        query = parse_qs(parts.query)
        for pattern, handler in _ROUTES:
            m = re.fullmatch(pattern, path)
            if m:
                return handler(self, query, *m.groups())
        return self._json({"message": "page not found"}, 404)

    # ------------------------------------------------------------------ replies
    def _send(self, body: bytes, status: int = 200, ctype: str = "application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Api-Version", "1.55")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, data, status: int = 200):
        self._send(json.dumps(data).encode(), status)

    def _file(self, rel: str, missing: str):
        path = self.root / rel
        if not path.is_file():
            return self._json({"message": missing}, 404)
        return self._send(path.read_bytes())

    def _container_file(self, ident: str) -> Path | None:
        for path in sorted((self.root / "containers").glob("*.json")):
            data = json.loads(path.read_text())
            if data["Id"].startswith(ident) or data["Name"].lstrip("/") == ident:
                return path
        return None

    # ------------------------------------------------------------------ routes
    def ping(self, query):
        self._send(b"OK", ctype="text/plain; charset=utf-8")

    def version(self, query):
        self._file("version.json", "no version")

    def info(self, query):
        self._file("info.json", "no info")

    def containers(self, query):
        items = json.loads((self.root / "containers.json").read_text())
        if query.get("all", ["0"])[0] in ("0", "false"):
            items = [c for c in items if c["State"] == "running"]
        self._json(items)

    def inspect(self, query, ident):
        path = self._container_file(ident)
        if path is None:
            return self._json({"message": f"No such container: {ident}"}, 404)
        self._send(path.read_bytes())

    def logs(self, query, ident):
        path = self._container_file(ident)
        if path is None:
            return self._json({"message": f"No such container: {ident}"}, 404)
        data = json.loads(path.read_text())
        log = self.root / "logs" / f"{data['Name'].lstrip('/')}.log"
        lines = log.read_text().splitlines(keepends=True) if log.is_file() else []
        tail = query.get("tail", ["all"])[0]
        if tail != "all":
            lines = lines[-int(tail):] if int(tail) else []
        if data["Config"].get("Tty"):
            return self._send("".join(lines).encode(), ctype="application/vnd.docker.raw-stream")
        frames = b"".join(multiplex(2, line.encode()) for line in lines)
        self._send(frames, ctype="application/vnd.docker.multiplexed-stream")

    def image(self, query, ident):
        self._file(f"images/{ident.removeprefix('sha256:')[:12]}.json", f"No such image: {ident}")


_ROUTES = [
    (r"/_ping", _Handler.ping),
    (r"/version", _Handler.version),
    (r"/info", _Handler.info),
    (r"/containers/json", _Handler.containers),
    (r"/containers/([^/]+)/json", _Handler.inspect),
    (r"/containers/([^/]+)/logs", _Handler.logs),
    (r"/images/(.+)/json", _Handler.image),
]


def multiplex(stream: int, payload: bytes) -> bytes:
    """One frame of Docker's multiplexed log stream: [stream, 0, 0, 0, size (uint32 BE)] + payload."""
    return struct.pack(">BxxxL", stream, len(payload)) + payload


class FakeEngine:
    """Serve one recorded scenario on a fresh unix socket; use as a context manager."""

    def __init__(self, scenario: str, root: Path | None = None):
        self.root = root or DOCKER_FIXTURES / scenario
        self._dir = tempfile.mkdtemp(prefix="v4d-docker-")
        self.socket_path = os.path.join(self._dir, "docker.sock")
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def __enter__(self) -> FakeEngine:
        handler = type("Handler", (_Handler,), {"root": self.root, "requests": self.requests})
        self._server = _Server(self.socket_path, handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        os.unlink(self.socket_path)
        os.rmdir(self._dir)


# --------------------------------------------------------------------------- the fake itself
@pytest.fixture
def h200_engine():
    with FakeEngine("h200-host") as engine:
        yield engine


def test_the_real_sdk_reads_version_info_and_containers(h200_engine):
    import docker

    client = docker.DockerClient(base_url=h200_engine.url, version="auto", timeout=5)
    try:
        assert client.ping() is True
        assert client.api.api_version == "1.55"
        assert "nvidia" in client.info()["Runtimes"]
        names = [c["Names"][0] for c in client.api.containers(all=True)]
        assert names == ["/v4-flash", "/sglang-v4", "/ollama", "/postgres"]
        running = [c["Names"][0] for c in client.api.containers()]
        assert "/sglang-v4" not in running  # restarting is not running in the list filter
    finally:
        client.close()
    assert "/info" in h200_engine.requests


def test_logs_are_demultiplexed_by_the_sdk(h200_engine):
    import docker

    client = docker.DockerClient(base_url=h200_engine.url, version="auto", timeout=5)
    try:
        out = client.api.logs("sglang-v4", stdout=True, stderr=True, tail=2).decode()
        image = client.api.inspect_image("sha256:2286e8533ca8b6bc777594bae30524f1426ba46ca21797524e06df6a94b06635")
    finally:
        client.close()
    assert out.splitlines() == ["but Transformers does not recognize this architecture.", "KeyError: 'deepseek_v4'"]
    assert "CUDA_VERSION=13.0.2" in image["Config"]["Env"]


def test_unknown_container_and_image_are_404s(h200_engine):
    import docker

    client = docker.DockerClient(base_url=h200_engine.url, version="auto", timeout=5)
    try:
        with pytest.raises(docker.errors.NotFound):
            client.api.inspect_container("nope")
        with pytest.raises(docker.errors.ImageNotFound):
            client.api.inspect_image("sha256:ffffffffffff")
    finally:
        client.close()


def test_multiplex_frame_header_is_eight_bytes():
    frame = multiplex(2, b"hello\n")
    assert frame[:8] == bytes([2, 0, 0, 0, 0, 0, 0, 6]) and frame[8:] == b"hello\n"
