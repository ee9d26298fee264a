"""The Docker collector and checks against a real Docker engine (dockerd, vfs, no network):
GPU requests refused by a daemon without the NVIDIA toolkit, engine containers without GPUs,
restart loops with real restart counts and logs, /dev/shm sizes, HF-cache volumes, images with
real names, DOCKER_HOST / rootless sockets, and engines that cannot be reached. The NVIDIA
runtime itself cannot be shown by a daemon here: the recorded-API tests (test_docker_checks.py) keep it.
Skipped, with the reason, where no dockerd can run; .ci/run starts one."""

from __future__ import annotations

import os
import socket
import time

import pytest
from conftest import LOGS, run_cli

import real_docker
from v4doctor.collect import docker as dc
from v4doctor.facts import Facts, GpuDevice, GpuFacts, TargetFacts, Unknown
from v4doctor.judge.context import Context
from v4doctor.judge.findings import Severity
from v4doctor.judge.registry import run_one
from v4doctor_checks import docker as checks

VLLM, SGLANG = "vllm/vllm-openai:v0.20.0", "lmsysorg/sglang:v0.5.12"
FLASH = "deepseek-ai/DeepSeek-V4-Flash"
# Real vLLM line (vllm-project/vllm#44376, fixtures/logs/a-vllm-kv-cache-too-small.log).
KV_LINE = (LOGS / "a-vllm-kv-cache-too-small.log").read_text().splitlines()[2]
# Synthetic: the same line with its "estimated maximum model length" sentence removed.
KV_LINE_NO_NUMBER = KV_LINE.replace(" Based on the available memory, the estimated maximum model length is 13528.", "")
PREFIX = "v4dtest-"


@pytest.fixture(scope="module")
def daemon():
    d, why = real_docker.start()
    if d is None:
        pytest.skip(f"no real Docker engine: {why}")
    why = real_docker.import_images(d)
    if why:
        d.close()
        pytest.skip(f"no test images: {why}")
    yield d
    ids = d.docker("ps", "-aq", "--filter", f"name={PREFIX}", check=False).stdout.split()
    if ids:
        d.docker("rm", "-f", *ids, check=False)
    d.docker("volume", "rm", "-f", f"{PREFIX}hf", check=False)
    d.close()


def _run(d, name, *args, check=True):
    return d.docker("run", "-d", "--name", PREFIX + name, "--network", "none", *args, check=check)


@pytest.fixture(scope="module")
def engine(daemon):
    """Every scenario started once, then the engine read once through the collector."""
    d = daemon
    refused = _run(d, "gpu", "--gpus", "all", VLLM, "vllm", "serve", FLASH, check=False)
    assert refused.returncode != 0
    _run(d, "nogpu", VLLM, "vllm", "serve", FLASH)
    _run(d, "loop", "--restart", "always", "-e", f"V4D_LOG={KV_LINE}", "-e", "V4D_EXIT=1", VLLM, "vllm", "serve", FLASH, "--max-model-len", "30000")
    _run(d, "loop-bare", "--restart", "always", "-e", f"V4D_LOG={KV_LINE_NO_NUMBER}", "-e", "V4D_EXIT=1", VLLM, "vllm", "serve", FLASH)
    _run(d, "shm64m", "--shm-size", "64m", VLLM, "vllm", "serve", FLASH, "-tp", "2")
    _run(d, "shm16g", "--shm-size", "16g", VLLM, "vllm", "serve", FLASH, "-tp", "2")
    _run(d, "ipchost", "--ipc", "host", VLLM, "vllm", "serve", FLASH, "-tp", "2")
    d.docker("volume", "create", f"{PREFIX}hf")
    _run(d, "cached", "-v", f"{PREFIX}hf:/root/.cache/huggingface", SGLANG, "vllm", "serve", FLASH)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # Docker's restart back-off doubles from 100 ms
        counts = [int(d.docker("inspect", "-f", "{{.RestartCount}}", PREFIX + n).stdout) for n in ("loop", "loop-bare")]
        if min(counts) >= checks.RESTART_LOOP:
            break
        time.sleep(0.3)
    return {"refused_stderr": refused.stderr, "facts": dc.collect(d.url)}


def _c(engine, name):
    return next(c for c in engine["facts"]["containers"] if c["name"] == PREFIX + name)


def _findings(engine, check, gpus=None):
    gpu = GpuFacts(driver_version="580.95.05", cuda_driver_version="13.0",
                   devices=[GpuDevice(i, "NVIDIA H200", 150754820096, 0, "9.0") for i in range(gpus or 0)]) if gpus else Unknown("no GPUs here")
    facts = Facts(target=TargetFacts(model="flash", engine="vllm"), gpu=gpu, docker=engine["facts"])
    return [f for f in run_one(Context(facts), check) if f.severity is not Severity.OK]


def _about(findings, name):
    return [f for f in findings if f"container {PREFIX}{name} " in f.title]


def test_a_gpu_request_is_refused_by_a_daemon_without_the_nvidia_toolkit(engine):
    assert 'could not select device driver "" with capabilities: [[gpu]]' in engine["refused_stderr"]
    c = _c(engine, "gpu")
    assert c["device_requests"] == [{"driver": "", "count": -1, "device_ids": [], "capabilities": [["gpu"]]}]
    assert "could not select device driver" in c["state"]["error"] and not c["state"]["running"]
    hits = _about(_findings(engine, checks.docker_gpu_runtime), "gpu")
    assert [f.severity for f in hits] == [Severity.ERROR] and "refused its GPUs" in hits[0].title


def test_an_engine_container_without_a_gpu_request_is_named_and_one_with_a_request_is_not(engine):
    found = _findings(engine, checks.docker_gpu_runtime)
    assert any("runs without GPUs" in f.title for f in _about(found, "nogpu"))
    assert not any("runs without GPUs" in f.title for f in _about(found, "gpu"))


def test_images_with_real_names_give_engine_and_version(engine):
    c = _c(engine, "nogpu")
    assert (c["image"], c["engine"], c["engine_version"]) == (VLLM, "vllm", "0.20.0")
    assert _c(engine, "cached")["engine"] == "sglang"
    assert c["launch"]["model"] == FLASH


def test_a_restart_loop_has_its_real_count_and_log_and_the_fix_its_number(engine):
    c = _c(engine, "loop")
    assert c["restart_count"] >= checks.RESTART_LOOP and c["restart_policy"] == "always"
    assert KV_LINE in c["logs_tail"]
    hits = _about(_findings(engine, checks.docker_restart_loop), "loop")
    assert len(hits) == 1 and "restarted" in hits[0].title and "KV cache" in hits[0].title, [f.title for f in hits]
    assert "13528" in hits[0].fix.text


def test_a_fix_text_degrades_when_the_log_gives_no_number(engine):
    hits = _about(_findings(engine, checks.docker_restart_loop), "loop-bare")
    assert len(hits) == 1
    text = " ".join([hits[0].title, hits[0].detail, hits[0].fix.text, *hits[0].fix.commands])
    assert "?" not in text.replace("?)", ")") and "{" not in text, text


def test_shm_sizes_as_the_daemon_reports_them(engine):
    assert _c(engine, "shm64m")["shm_size_bytes"] == 64 << 20
    assert _c(engine, "shm16g")["shm_size_bytes"] == 16 << 30
    assert _c(engine, "ipchost")["ipc_mode"] == "host"
    found = _findings(engine, checks.docker_shm)
    assert [f.severity for f in _about(found, "shm64m")] == [Severity.ERROR]
    assert not _about(found, "shm16g") and not _about(found, "ipchost")


def test_a_volume_at_the_hf_cache_keeps_the_weights_and_none_is_named(engine):
    c = _c(engine, "cached")
    assert {"type": "volume", "name": f"{PREFIX}hf", "destination": "/root/.cache/huggingface"}.items() <= c["mounts"][0].items()
    found = _findings(engine, checks.docker_model_cache)
    assert not _about(found, "cached") and _about(found, "nogpu")


def test_docker_host_and_a_rootless_socket_reach_the_engine(daemon, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", daemon.url)
    assert any(c["name"].startswith(PREFIX) for c in dc.collect()["containers"])
    if os.path.exists(dc.DEFAULT_SOCKET):
        pytest.skip(f"{dc.DEFAULT_SOCKET} exists here: the rootless socket is not the fallback")
    monkeypatch.delenv("DOCKER_HOST")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "docker.sock").symlink_to(daemon.url[len("unix://"):])
    assert dc.local_host(dict(os.environ)) == f"unix://{tmp_path}/docker.sock"
    assert any(c["name"].startswith(PREFIX) for c in dc.collect()["containers"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_docker_host_is_unknown_with_the_reason(tmp_path):
    missing = dc.collect(f"unix://{tmp_path}/none.sock")
    assert isinstance(missing, Unknown) and "no docker socket" in missing.reason
    refused = dc.collect(f"tcp://127.0.0.1:{_closed_port()}", timeout=2)
    assert isinstance(refused, Unknown) and ("connection refused" in refused.reason or "did not answer" in refused.reason)
    dead = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(dead))
    s.close()  # the file stays, nothing listens
    assert "connection refused" in dc.collect(f"unix://{dead}").reason


def test_a_silent_engine_times_out_instead_of_hanging(tmp_path):
    silent = socket.socket(socket.AF_UNIX)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(8)  # accepts, never answers
    try:
        t = time.monotonic()
        got = dc.collect(f"unix://{tmp_path}/silent.sock", timeout=1)
        assert isinstance(got, Unknown) and time.monotonic() - t < 20
    finally:
        silent.close()


def test_run_reads_the_real_engine_end_to_end(daemon, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", daemon.url)
    r = run_cli("run", "--json", "--model", FLASH)
    assert r.code in (0, 1), r.err
    ids = {f["id"] for f in r.json()["findings"] if f["severity"] in ("error", "warning")}
    assert {"V4D501", "V4D505"} <= ids, ids
