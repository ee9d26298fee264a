"""The Docker collector through the real `docker` SDK against a recorded Engine API on a unix socket,
plus the paths where no engine answers: no socket, connection refused, permission denied."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from test_docker_engine import FakeEngine

from v4doctor.collect import docker as dc
from v4doctor.facts import Facts, TargetFacts, Unknown, facts_from_json, facts_to_json


@pytest.fixture(scope="module")
def h200():
    with FakeEngine("h200-host") as engine:
        facts = dc.collect(engine.url)
        return facts, list(engine.requests)


def _by_name(facts, name):
    return next(c for c in facts["containers"] if c["name"] == name)


def test_engine_runtime_and_cdi_devices_are_read(h200):
    facts, requests = h200
    assert facts["server_version"] == "29.6.1" and facts["api_version"] == "1.55"
    assert facts["nvidia_runtime"] is True and "nvidia" in facts["runtimes"]
    assert facts["cdi_devices"][:2] == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    assert {"/version", "/info", "/containers/json"} <= set(requests)


def test_only_engine_containers_are_kept(h200):
    facts, _ = h200
    assert [c["name"] for c in facts["containers"]] == ["v4-flash", "sglang-v4", "ollama"]  # postgres is not an engine
    assert [c["engine"] for c in facts["containers"]] == ["vllm", "sglang", "ollama"]


def test_a_healthy_vllm_container_is_described(h200):
    c = _by_name(h200[0], "v4-flash")
    assert (c["engine_version"], c["cuda"], c["cuda_source"]) == ("0.28.0", "13.0", "image env NVIDIA_REQUIRE_CUDA")
    assert c["argv"][:3] == ["vllm", "serve", "deepseek-ai/DeepSeek-V4-Flash"]
    assert c["device_requests"] == [{"driver": "nvidia", "count": 0, "device_ids": ["0", "1", "2", "3"], "capabilities": [["gpu"]]}]
    assert (c["ipc_mode"], c["shm_size_bytes"], c["restart_count"]) == ("host", 64 * 1024**2, 0)
    assert c["mounts"][0]["destination"] == "/root/.cache/huggingface"
    assert c["logs_tail"][-1].endswith("API server: HTTP server started")
    assert c["launch"]["model"] == "deepseek-ai/DeepSeek-V4-Flash" and c["launch"]["flags"]["data-parallel-size"] == "4"


def test_secrets_in_container_env_never_reach_the_facts(h200):
    facts, _ = h200
    assert _by_name(facts, "v4-flash")["env"]["HF_TOKEN"] == "[set]"
    text = json.dumps(facts)
    assert "hf_aVeryRealLookingTokenValue" not in text and "hunter2" not in text
    assert "sk-live-0123456789abcdefABCDEF" not in text  # `--api-key VALUE` in the container's command
    assert _by_name(facts, "v4-flash")["argv"][-2:] == ["--api-key", "[REDACTED]"]


@pytest.mark.parametrize("argv,want", [
    (["--api-key", "k1", "--port", "8000"], ["--api-key", "[REDACTED]", "--port", "8000"]),
    (["--hf-token=hf_abc", "--token", "t"], ["--hf-token=[REDACTED]", "--token", "[REDACTED]"]),
    (["--API_KEY=x"], ["--API_KEY=[REDACTED]"]),
    (["--port", "8000", "--api-key"], ["--port", "8000", "--api-key"]),
    (["--max-model-len", "4096"], ["--max-model-len", "4096"]),
])
def test_secret_flags_are_scrubbed_from_argv(argv, want):
    assert dc.scrub_argv(argv) == want


def test_a_restarting_container_keeps_its_state_and_log_tail(h200):
    c = _by_name(h200[0], "sglang-v4")
    assert c["state"]["restarting"] is True and c["restart_count"] == 12 and c["restart_policy"] == "always"
    assert c["logs_tail"][-1] == "KeyError: 'deepseek_v4'"
    assert (c["engine_version"], c["cuda"]) == ("0.5.10.post1", "12.9")
    assert "diagnoses" in c["diagnosis"] or set(c["diagnosis"]) == {"unknown"}


def test_docker_facts_survive_a_snapshot_round_trip(h200):
    facts = Facts(target=TargetFacts(model="flash", engine="vllm"), docker=h200[0])
    again = facts_from_json(json.loads(json.dumps(facts_to_json(facts))))
    assert again.docker == h200[0]


def test_docker_host_is_honoured(monkeypatch):
    with FakeEngine("no-toolkit-host") as engine:
        monkeypatch.setenv("DOCKER_HOST", engine.url)
        facts = dc.collect()
    assert facts["nvidia_runtime"] is False and facts["containers"][0]["state"]["error"].startswith("could not select device driver")


# --------------------------------------------------------------------------- no engine
def test_no_socket_is_unknown_with_the_path(tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    result = dc.collect(f"unix://{tmp_path}/docker.sock")
    assert isinstance(result, Unknown) and result.reason.startswith(f"no docker socket at {tmp_path}/docker.sock")


def test_a_socket_nobody_listens_on_is_connection_refused(tmp_path):
    path = str(tmp_path / "docker.sock")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(path)  # bound, never listening: connect() gets ECONNREFUSED
        result = dc.collect(f"unix://{path}", timeout=2)
    assert isinstance(result, Unknown) and "connection refused" in result.reason and "systemctl start docker" in result.reason


_AS_NOBODY = """
import sys
sys.path[:0] = [{main!r}, {site!r}]
from v4doctor.collect.docker import collect
print(collect({url!r}).reason)
"""


def test_permission_denied_names_the_docker_group_fix():
    """A socket with mode 000, opened by a user that is not root (root ignores modes): a real EACCES."""
    with FakeEngine("h200-host") as engine:
        os.chmod(os.path.dirname(engine.socket_path), 0o755)
        os.chmod(engine.socket_path, 0o000)
        if os.geteuid() != 0:
            reason = dc.collect(engine.url).reason
        else:
            reason = _collect_as_nobody(engine.url)
        os.chmod(engine.socket_path, 0o660)
    assert reason.startswith(f"permission denied on {engine.socket_path}")
    assert "usermod -aG docker" in reason


def _collect_as_nobody(url: str) -> str:
    """Run the collector in a child process as `nobody`, with a Python that user may execute."""
    python = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else sys.executable
    site = next(p for p in sys.path if p.endswith("site-packages"))
    main = str(Path(dc.__file__).resolve().parents[2])
    code = _AS_NOBODY.format(main=main, site=site, url=url)
    try:
        run = subprocess.run([python, "-c", code], user="nobody", capture_output=True, text=True, timeout=60, cwd="/", check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run a process as nobody here: {exc}")
    if run.returncode != 0:
        pytest.skip(f"a python as nobody could not import v4doctor: {run.stderr.strip().splitlines()[-1:]}")
    return run.stdout.strip()


def test_gather_puts_docker_facts_in_facts(monkeypatch, tmp_path):
    from v4doctor.collect import gather

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    facts = gather(TargetFacts(model="flash", engine="vllm"))
    assert isinstance(facts.docker, Unknown) and "no docker socket" in facts.docker.reason


# --------------------------------------------------------------------------- image references
@pytest.mark.parametrize("ref,name,tag,engine,version,cuda", [
    ("vllm/vllm-openai:v0.28.0", "vllm/vllm-openai", "v0.28.0", "vllm", "0.28.0", None),
    ("docker.io/vllm/vllm-openai:v0.26.0-cu129", "vllm/vllm-openai", "v0.26.0-cu129", "vllm", "0.26.0", "12.9"),
    ("vllm/vllm-openai:deepseekv4-cu130", "vllm/vllm-openai", "deepseekv4-cu130", "vllm", None, "13.0"),
    ("vllm/vllm-openai", "vllm/vllm-openai", "latest", "vllm", None, None),
    ("lmsysorg/sglang:v0.5.12.post1-cu129", "lmsysorg/sglang", "v0.5.12.post1-cu129", "sglang", "0.5.12.post1", "12.9"),
    ("lmsysorg/sglang:deepseek-v4-hopper", "lmsysorg/sglang", "deepseek-v4-hopper", "sglang", None, None),
    ("ghcr.io/ggml-org/llama.cpp:server-cuda-b9840", "ghcr.io/ggml-org/llama.cpp", "server-cuda-b9840", "llamacpp", "b9840", None),
    ("ghcr.io/ggerganov/llama.cpp:server-cuda", "ghcr.io/ggerganov/llama.cpp", "server-cuda", "llamacpp", None, None),
    ("ollama/ollama:latest", "ollama/ollama", "latest", "ollama", None, None),
    ("localhost:5000/vllm/vllm-openai:v0.20.0", "localhost:5000/vllm/vllm-openai", "v0.20.0", None, None, None),
    ("postgres:16", "postgres", "16", None, None, None),
])
def test_image_references(ref, name, tag, engine, version, cuda):
    assert dc.split_image(ref) == (name, tag)
    assert dc.engine_of(ref) == engine
    if engine:
        assert dc.tag_version(engine, tag) == version
    assert dc.tag_cuda(tag) == cuda


@pytest.mark.parametrize("env,cuda", [
    ({"NVIDIA_REQUIRE_CUDA": "cuda>=12.9 brand=tesla,driver>=535,driver<536", "CUDA_VERSION": "12.9.1"}, "12.9"),
    ({"CUDA_VERSION": "13.0.2"}, "13.0"),
    ({"CUDA_VERSION": "garbage"}, None),
    ({}, None),
])
def test_image_cuda_from_env(env, cuda):
    assert dc.image_cuda(env) == cuda


def test_a_rootless_engine_is_found_when_the_root_socket_is_missing(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(dc, "DEFAULT_SOCKET", str(tmp_path / "no-root-docker.sock"))
    with FakeEngine("h200-host") as engine:
        monkeypatch.setenv("XDG_RUNTIME_DIR", os.path.dirname(engine.socket_path))
        facts = dc.collect()
    assert facts["host"] == engine.url and len(facts["containers"]) == 3


def test_nothing_local_names_both_sockets(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(dc, "DEFAULT_SOCKET", str(tmp_path / "docker-root.sock"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no CLI context configured
    result = dc.collect()
    assert isinstance(result, Unknown)
    assert result.reason == (f"no docker socket at {tmp_path}/docker-root.sock (nor a rootless one at {tmp_path}/docker.sock); "
                             "is Docker installed and running?")


def test_a_container_gone_between_list_and_inspect_does_not_hide_the_others(tmp_path):
    root = tmp_path / "engine"
    shutil.copytree(FakeEngine("h200-host").root, root)
    listed = json.loads((root / "containers.json").read_text())
    listed.append({**listed[0], "Id": "f" * 64, "Names": ["/vanished"]})  # listed, but /containers/{id}/json is a 404
    (root / "containers.json").write_text(json.dumps(listed))
    with FakeEngine("h200-host", root=root) as engine:
        facts = dc.collect(engine.url)
    gone = [c for c in facts["containers"] if c["name"] == "vanished"]
    assert gone and gone[0]["unreadable"].startswith("NotFound") and len(facts["containers"]) == 4

    from v4doctor_checks import docker as checks

    from v4doctor.judge.context import Context
    from v4doctor.judge.registry import checks_in_module, run_one

    ctx = Context(Facts(target=TargetFacts(model="flash", engine="vllm"), docker=facts))
    for c in checks_in_module(checks):
        assert all("crashed" not in f.title for f in run_one(ctx, c)), c.id


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.dictionaries(st.sampled_from(["CUDA_VERSION", "NVIDIA_REQUIRE_CUDA", "PATH"]), st.text(max_size=40)))
def test_image_parsers_never_crash(ref, env):
    name, tag = dc.split_image(ref)
    assert isinstance(name, str) and tag
    engine = dc.engine_of(ref)
    if engine:
        assert dc.tag_version(engine, tag) is None or dc.tag_version(engine, tag)[0].isalnum()
    assert dc.tag_cuda(tag) is None or dc.tag_cuda(tag).count(".") == 1
    assert dc.image_cuda(env) is None or dc.image_cuda(env).count(".") == 1
    assert "[REDACTED]" not in " ".join(dc.scrub_argv([ref])) or ref.startswith("-")
