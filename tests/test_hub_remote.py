"""The real huggingface_hub client against a local HTTP server serving recorded Hub responses.

Statuses: ok, gated 401, not found, revision not found, 429, 500, and a slow answer for the
timeout path. Provenance: a GGUF written with gguf.GGUFWriter, its size and sha256 compared
with the repo's LFS metadata (paths-info).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import FIXTURES, run_cli
from test_gguf_files import make_gguf

HUB = FIXTURES / "hub"
ERRORS = json.loads((HUB / "errors.json").read_text())
FLASH = json.loads((HUB / "model_info_flash.json").read_text())
GGUF_REPO = "unsloth/DeepSeek-V4-Flash-GGUF"


class _Hub(BaseHTTPRequestHandler):
    repos: dict = {}  # repo -> "ok" model-info dict, or an errors.json key, or "slow"

    def log_message(self, *args):
        pass

    def _repo(self):
        parts = urllib.parse.urlparse(self.path).path.split("/")
        return "/".join(parts[3:5]), parts

    def _send(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _behaviour(self, repo, parts):
        kind = self.repos.get(repo, "not_found")
        if kind == "slow":
            time.sleep(2)
            kind = "server_error"
        if "nope" in parts:
            kind = "revision_not_found"
        if isinstance(kind, str):
            e = ERRORS[kind]
            self._send(e["status"], e["body"], e["headers"])
            return None
        return kind

    def do_GET(self):  # /api/models/{org}/{name}/revision/{rev}
        repo, parts = self._repo()
        info = self._behaviour(repo, parts)
        if info is not None:
            self._send(200, info)

    def do_POST(self):  # /api/models/{org}/{name}/paths-info/{rev}
        repo, parts = self._repo()
        info = self._behaviour(repo, parts)
        if info is None:
            return
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        wanted = set(form.get("paths", []))
        out = [
            {"type": "file", "path": s["rfilename"], "size": s["size"], "oid": s.get("blobId", "0" * 40),
             **({"lfs": {"oid": s["lfs"]["sha256"], "size": s["lfs"]["size"], "pointerSize": s["lfs"]["pointerSize"]}} if s.get("lfs") else {})}
            for s in info["siblings"] if s["rfilename"] in wanted
        ]
        self._send(200, out)


class _Server(ThreadingHTTPServer):
    daemon_threads, block_on_close = True, False  # a slow handler must not hold teardown

    def handle_error(self, request, client_address):
        pass  # the client gave up on the slow answer (the timeout test): a broken pipe is expected


@pytest.fixture
def hub_server(monkeypatch, tmp_path):
    """A local hub; HF_ENDPOINT points at it; no token anywhere."""
    server = _Server(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    _Hub.repos = {"deepseek-ai/DeepSeek-V4-Flash": FLASH}
    yield _Hub.repos
    server.shutdown()
    server.server_close()


def _gguf_repo(files, sha_override=None):
    siblings = [{"rfilename": f"UD-Q4_K_XL/{p.name}", "size": p.stat().st_size,
                 "lfs": {"sha256": sha_override or hashlib.sha256(p.read_bytes()).hexdigest(), "size": p.stat().st_size, "pointerSize": 135}} for p in files]
    return {"id": GGUF_REPO, "sha": "abc123def4560000000000000000000000000000", "private": False, "gated": False, "siblings": siblings}


# --------------------------------------------------------------------------- statuses
@pytest.mark.parametrize(
    "behaviour, status, code",
    [
        ("gated", "gated", 401),
        ("not_found", "not_found", 404),
        ("rate_limited", "rate_limited", 429),
        ("server_error", "server_error", 500),
    ],
)
def test_probe_statuses(hub_server, behaviour, status, code):
    from v4doctor.weights.hub import probe_repo

    hub_server["deepseek-ai/DeepSeek-V4-Flash"] = behaviour
    start = time.perf_counter()
    rec = probe_repo("deepseek-ai/DeepSeek-V4-Flash", token=False, timeout=5)
    assert (rec["status"], rec["http_status"]) == (status, code)
    assert time.perf_counter() - start < 2  # no retry/backoff loop on 429/500


def test_probe_ok_lists_files_and_sha(hub_server):
    from v4doctor.weights.hub import probe_repo

    rec = probe_repo("deepseek-ai/DeepSeek-V4-Flash", token=False)
    assert rec["status"] == "ok" and rec["sha"].startswith("6976c7ff")
    assert sum(f["size"] for f in rec["files"] if f["path"].endswith(".safetensors")) == 159617149040


def test_revision_not_found(hub_server):
    from v4doctor.weights.hub import probe_repo

    assert probe_repo("deepseek-ai/DeepSeek-V4-Flash", "nope", token=False)["status"] == "revision_not_found"


def test_slow_hub_times_out_quickly(hub_server):
    from v4doctor.weights.hub import probe_repo, paths_info

    hub_server["deepseek-ai/DeepSeek-V4-Flash"] = "slow"
    start = time.perf_counter()
    assert probe_repo("deepseek-ai/DeepSeek-V4-Flash", token=False, timeout=0.3)["status"] == "timeout"
    assert paths_info("deepseek-ai/DeepSeek-V4-Flash", "main", ["config.json"], token=False, timeout=0.3)["status"] == "timeout"
    assert time.perf_counter() - start < 1.5


def test_session_factory_is_restored(hub_server):
    from huggingface_hub.utils import _http

    from v4doctor.weights.hub import probe_repo

    before = _http._GLOBAL_CLIENT_FACTORY
    probe_repo("deepseek-ai/DeepSeek-V4-Flash", token=False, timeout=1)
    assert _http._GLOBAL_CLIENT_FACTORY is before


# --------------------------------------------------------------------------- collector
def test_collector_counts_the_engine_download(hub_server):
    from v4doctor.collect import hub, hubremote
    from v4doctor.collect.target import build_target

    target = build_target("flash", "vllm")
    rec = hubremote.collect(target, hub.collect(target), timeout=2)
    assert rec["status"] == "ok"
    assert rec["download_bytes"] == 159617149040 + 7847615 + 1842  # weights + tokenizer.json + config.json, not README


def test_collector_offline_is_unknown_without_a_request(hub_server, monkeypatch):
    from v4doctor.collect import hub, hubremote
    from v4doctor.collect.target import build_target
    from v4doctor.facts import Unknown

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_server["deepseek-ai/DeepSeek-V4-Flash"] = "slow"  # would take 2 s if asked
    target = build_target("flash", "vllm")
    start = time.perf_counter()
    rec = hubremote.collect(target, hub.collect(target))
    assert isinstance(rec, Unknown) and "HF_HUB_OFFLINE" in rec.reason
    assert time.perf_counter() - start < 0.5


# --------------------------------------------------------------------------- provenance
def test_provenance_matches_repo_by_sha256(hub_server, tmp_path):
    from v4doctor.knowledge.kb import load as load_kb
    from v4doctor.weights.load import load
    from v4doctor.weights.provenance import provenance

    files = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=4)
    hub_server[GGUF_REPO] = _gguf_repo(files)
    (rec,) = load(str(files[0]), hash_files=True)
    prov = provenance(rec, load_kb(), timeout=2)
    assert prov["match"] == {"repo": GGUF_REPO, "revision": "main", "sha": "abc123def4560000000000000000000000000000", "by": "sha256"}


def test_provenance_sha_differs(hub_server, tmp_path):
    from v4doctor.knowledge.kb import load as load_kb
    from v4doctor.weights.load import load
    from v4doctor.weights.provenance import provenance

    files = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    hub_server[GGUF_REPO] = _gguf_repo(files, sha_override="f" * 64)
    (rec,) = load(str(files[0]), hash_files=True)
    prov = provenance(rec, load_kb(), timeout=2)
    assert prov["match"] is None
    assert prov["checked"][0]["pairs"][0]["verdict"] == "differs"


def test_cli_gguf_hub_hash_json(hub_server, tmp_path):
    files = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    hub_server[GGUF_REPO] = _gguf_repo(files)
    r = run_cli("gguf", str(files[0]), "--hub", "--hash", "--no-host", "--json", "--timeout", "2")
    data = r.json()
    found = [f for f in data["findings"] if f["id"] == "V4D411"]
    assert found[0]["severity"] == "info" and f"matches {GGUF_REPO}@abc123def456 (by sha256)" in found[0]["title"]
    assert data["gguf"][0]["files"][0]["sha256"] == hashlib.sha256(files[0].read_bytes()).hexdigest()


def test_cli_gguf_hub_gated_repo_is_no_match_warning(hub_server, tmp_path):
    files = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    hub_server[GGUF_REPO] = "gated"
    data = run_cli("gguf", str(files[0]), "--hub", "--no-host", "--json", "--repo", GGUF_REPO).json()
    (f,) = [f for f in data["findings"] if f["id"] == "V4D411"]
    assert f["severity"] == "warning" and f"{GGUF_REPO} (gated)" in f["detail"]


def test_collector_llamacpp_does_not_count_a_safetensors_download(hub_server):
    from v4doctor.collect import hub, hubremote
    from v4doctor.collect.target import build_target

    target = build_target("flash", "llamacpp")
    rec = hubremote.collect(target, hub.collect(target), timeout=2)
    assert rec["status"] == "ok" and rec["download_bytes"] is None and "GGUF" in rec["download_note"]
