"""Docker checks V4D501–V4D506: hit and no-hit tables over facts the collector read through the real
SDK from the recorded engines (`fixtures/docker/`), varied per row; each no-hit row says why."""

from __future__ import annotations

import copy

import pytest
from test_docker_engine import FakeEngine
from v4doctor_checks import docker as checks
from v4doctor_checks import docker_images

from v4doctor.collect import docker as dc
from v4doctor.judge.context import Context
from v4doctor.facts import Facts, GpuDevice, GpuFacts, TargetFacts, Unknown
from v4doctor.judge.findings import Severity
from v4doctor.judge.registry import run_one

HOSTS = {  # scenario -> (driver, CUDA the driver supports, GPU count)
    "h200-host": ("580.95.05", "13.0", 8),
    "r570-host": ("570.86.15", "12.8", 1),
    "no-toolkit-host": ("580.95.05", "13.0", 8),
}


@pytest.fixture(scope="module")
def engines():
    out = {}
    for scenario in HOSTS:
        with FakeEngine(scenario) as engine:
            out[scenario] = dc.collect(engine.url)
    return out


def _gpu(scenario, **over):
    driver, cuda, n = HOSTS[scenario]
    devices = [GpuDevice(i, "NVIDIA H200", 150754820096, 0, "9.0") for i in range(n)]
    return GpuFacts(**{"driver_version": driver, "cuda_driver_version": cuda, "devices": devices, **over})


def _c(docker, name):
    return next(c for c in docker["containers"] if c["name"] == name)


def _run(check, docker, gpu, model="flash"):
    facts = Facts(target=TargetFacts(model=model, engine="vllm"), gpu=gpu, docker=docker)
    return [f for f in run_one(Context(facts), check) if f.severity is not Severity.OK]


# Each row: (check, scenario, mutate(docker, gpu) -> (docker, gpu) or None, severity, text in the title, why).
def keep(d, g):
    return d, g


def strip_gpus(d, g):
    c = _c(d, "v4-flash")
    c["device_requests"], c["runtime"] = [], "runc"
    return d, g


def no_toolkit_no_containers(d, g):
    d.update(nvidia_runtime=False, cdi_devices=[], runtimes=["runc"], containers=[])
    return d, g


def shm_512m(d, g):
    _c(d, "sglang-v4")["shm_size_bytes"] = 512 * 1024**2
    return d, g


def ollama_no_volume(d, g):
    _c(d, "ollama")["mounts"] = []
    return d, g


def driver_only(d, g):
    return d, _gpu("r570-host", cuda_driver_version=Unknown("NVML NotSupported"))


def kb_day0_image(d, g):
    c = _c(d, "guide-vllm-1")
    c.update(image="vllm/vllm-openai:deepseekv4-cu130", tag="deepseekv4-cu130", cuda={"unknown": "no env"}, cuda_source=None)
    return d, g


def _exited(exit_code, **state):
    """A mutator: container v4-flash exited with `exit_code` (and more `state` fields)."""
    def mutate(d, g):
        _c(d, "v4-flash")["state"].update(status="exited", running=False, exit_code=exit_code, **state)
        return d, g
    return mutate


crashed, oom_killed, stopped = _exited(1), _exited(137, oom_killed=True), _exited(143)


def diagnosed(d, g):
    c = _c(d, "sglang-v4")
    c["diagnosis"] = {"healthy": False, "diagnoses": [{
        "id": "SIG-X", "category": "arch_unsupported_engine_too_old", "title": "transformers does not know deepseek_v4",
        "cause": "the image's transformers predates V4", "fix": "use lmsysorg/sglang ≥ 0.5.12", "troubleshooting": "transformers-unknown-deepseek-v4",
        "evidence": [{"line": 3, "text": "KeyError: 'deepseek_v4'"}]}]}
    return d, g


def model_path_not_mounted(d, g):
    c = _c(d, "sglang-v4")
    c["launch"]["model"] = "/models/DeepSeek-V4-Flash"
    return d, g


def vllm_0191(d, g):
    _c(d, "v4-flash").update(image="vllm/vllm-openai:v0.19.1", tag="v0.19.1", engine_version="0.19.1")
    return d, g


def dspark_on_024(d, g):
    c = _c(d, "v4-flash")
    c.update(image="vllm/vllm-openai:v0.24.0", tag="v0.24.0", engine_version="0.24.0")
    c["launch"]["model"] = "deepseek-ai/DeepSeek-V4-Flash-0731"
    return d, g


HITS = [
    (checks.docker_gpu_runtime, "no-toolkit-host", keep, "error", 'could not select device driver ""', "Docker refused the GPU request"),
    (checks.docker_gpu_runtime, "h200-host", strip_gpus, "error", "runs without GPUs", "vLLM container with no device request"),
    (checks.docker_gpu_runtime, "h200-host", no_toolkit_no_containers, "warning", "no NVIDIA runtime", "GPU host, Docker without toolkit"),
    (checks.docker_shm, "h200-host", keep, "error", "4 GPUs with 64 MiB", "SGLang TP4 at Docker's default shm"),
    (checks.docker_shm, "h200-host", shm_512m, "warning", "4 GPUs with 512 MiB", "raised but still under 1 GiB"),
    (checks.docker_model_cache, "h200-host", keep, "warning", "sglang-v4 keeps its weights", "no volume at the HF cache"),
    (checks.docker_model_cache, "h200-host", ollama_no_volume, "warning", "ollama keeps its weights", "no volume at /root/.ollama"),
    (checks.docker_model_cache, "h200-host", model_path_not_mounted, "warning", "serves /models/DeepSeek-V4-Flash, but no volume",
     "a model path inside the container with nothing mounted there"),
    (checks.docker_image_cuda, "r570-host", keep, "error", "CUDA 13.0 build", "guide's :latest (CUDA 13) on R570"),
    (checks.docker_image_cuda, "r570-host", driver_only, "error", "CUDA 13.0 build", "NVML gave only the driver: R570 < 580.65.06"),
    (checks.docker_image_cuda, "r570-host", kb_day0_image, "error", "CUDA 13.0 build", "deepseekv4-cu130 known from the knowledge base"),
    (checks.docker_restart_loop, "h200-host", keep, "error", "restarted 12 times", "SGLang in a restart loop"),
    (checks.docker_restart_loop, "h200-host", crashed, "error", "exited with code 1", "vLLM exited with an error"),
    (checks.docker_restart_loop, "h200-host", diagnosed, "error", "transformers does not know deepseek_v4", "the diagnosis names the cause"),
    (checks.docker_restart_loop, "h200-host", oom_killed, "error", "killed by the out-of-memory killer", "exit 137 with OOMKilled"),
    (checks.docker_engine_version, "h200-host", keep, "error", "sglang 0.5.10.post1", "SGLang before 0.5.12"),
    (checks.docker_engine_version, "h200-host", vllm_0191, "error", "vllm 0.19.1", "vLLM before 0.20.0"),
    (checks.docker_engine_version, "h200-host", dspark_on_024, "error", "older than 0.25.0", "DSpark checkpoint on vLLM 0.24"),
    (checks.docker_engine_version, "r570-host", keep, "info", "depends on when the image was pulled", "the guide's :latest"),
]


@pytest.mark.parametrize("check,scenario,mutate,severity,text,why", HITS, ids=[h[5] for h in HITS])
def test_hits(engines, check, scenario, mutate, severity, text, why):
    docker, gpu = mutate(copy.deepcopy(engines[scenario]), _gpu(scenario))
    found = _run(check, docker, gpu)
    hit = [f for f in found if text in f.title]
    assert hit, (why, [f.title for f in found])
    assert hit[0].severity.value == severity and hit[0].id == check.id
    assert hit[0].fix is not None and hit[0].fix.text


def single_gpu_default_shm(d, g):
    c = _c(d, "v4-flash")
    c.update(ipc_mode="private", device_requests=[{"driver": "nvidia", "count": 1, "device_ids": [], "capabilities": [["gpu"]]}])
    c["launch"]["flags"].pop("data-parallel-size")
    return d, g


def local_model_on_bind_mount(d, g):
    c = _c(d, "sglang-v4")
    c["mounts"] = [{"type": "bind", "source": "/data/models", "destination": "/models"}]
    c["launch"]["model"] = "/models/DeepSeek-V4-Flash"
    return d, g


def cache_parent_mounted(d, g):
    _c(d, "sglang-v4")["mounts"] = [{"type": "bind", "source": "/srv/cache", "destination": "/root/.cache"}]
    return d, g


def cpu_only_host(d, g):
    d.update(nvidia_runtime=False, cdi_devices=[], containers=[])
    return d, GpuFacts(driver_version=Unknown("no NVIDIA driver"), cuda_driver_version=Unknown("no NVIDIA driver"), devices=[])


def day0_sglang(d, g):
    _c(d, "sglang-v4").update(image="lmsysorg/sglang:deepseek-v4-hopper", tag="deepseek-v4-hopper", engine_version={"unknown": "no version"})
    return d, g


def only_healthy(d, g):
    d["containers"] = [c for c in d["containers"] if c["name"] != "sglang-v4"]
    return d, g


NO_HITS = [
    (checks.docker_gpu_runtime, "h200-host", keep, "toolkit registered and every engine container asks for GPUs"),
    (checks.docker_gpu_runtime, "h200-host", cpu_only_host, "no GPUs on the host: nothing to give containers"),
    (checks.docker_shm, "r570-host", keep, "the guide's shm_size 16gb is plenty"),
    (checks.docker_shm, "h200-host", only_healthy, "v4-flash uses ipc: host, which bypasses /dev/shm limits"),
    (checks.docker_shm, "h200-host", lambda d, g: single_gpu_default_shm(only_healthy(d, g)[0], g), "one GPU: no NCCL traffic"),
    (checks.docker_model_cache, "h200-host", only_healthy, "v4-flash mounts hf_cache, ollama mounts /root/.ollama"),
    (checks.docker_model_cache, "h200-host", local_model_on_bind_mount, "a local model under a mounted directory downloads nothing"),
    (checks.docker_model_cache, "h200-host", cache_parent_mounted, "a mount at /root/.cache covers the HF cache"),
    (checks.docker_image_cuda, "h200-host", keep, "CUDA 13.0 and 12.9 images on a CUDA 13.0 (R580) driver"),
    (checks.docker_restart_loop, "h200-host", only_healthy, "running containers with no restarts"),
    (checks.docker_restart_loop, "no-toolkit-host", keep, "a container refused at creation is V4D501's, not a crash loop"),
    (checks.docker_restart_loop, "h200-host", lambda d, g: stopped(only_healthy(d, g)[0], g), "exit 143 is `docker stop`, not a crash"),
    (checks.docker_engine_version, "h200-host", only_healthy, "vLLM 0.28.0 is above the 0.20.0 floor; ollama has no floor here"),
    (checks.docker_engine_version, "h200-host", day0_sglang, "day-0 V4 image names no version; v4-flash is above its floor"),
]


@pytest.mark.parametrize("check,scenario,mutate,why", NO_HITS, ids=[n[3] for n in NO_HITS])
def test_no_hits(engines, check, scenario, mutate, why):
    docker, gpu = mutate(copy.deepcopy(engines[scenario]), _gpu(scenario))
    assert _run(check, docker, gpu) == [], why


def test_no_docker_means_skipped_with_the_reason():
    facts = Facts(target=TargetFacts(model="flash", engine="vllm"), docker=Unknown("no docker socket at /var/run/docker.sock"))
    found = run_one(Context(facts), checks.docker_shm)
    assert found[0].severity is Severity.SKIPPED and "no docker socket" in found[0].detail


def test_restart_loop_evidence_quotes_the_log(engines):
    found = _run(checks.docker_restart_loop, engines["h200-host"], _gpu("h200-host"))
    assert any("KeyError: 'deepseek_v4'" in e for e in found[0].evidence)


def test_run_reports_docker_findings_from_a_snapshot(engines, tmp_path):
    """End to end: a snapshot with docker facts, judged by `v4doctor run --facts`."""
    import json

    from conftest import run_cli

    from v4doctor.facts import facts_to_json

    facts = Facts(target=TargetFacts(model="flash", engine="vllm"), gpu=_gpu("r570-host"), docker=engines["r570-host"])
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(facts_to_json(facts)))
    res = run_cli("run", "--facts", str(path), "--select", "V4D5", "--json")
    ids = {(f["id"], f["severity"]) for f in res.json()["findings"]}
    assert ("V4D504", "error") in ids and res.code == 1


def test_container_commands_go_through_the_launch_checks(engines):
    """The guide's compose command, judged on the GPUs the container sees, with the container's own version."""
    from check_cases import host

    facts = host("driver570-vllm020-cu130")  # vLLM 0.20.0 installed on the host, not in the container
    facts.docker = copy.deepcopy(engines["r570-host"])
    found = [f for f in run_one(Context(facts), checks.docker_launch_plans) if f.severity is not Severity.OK]
    launch_ids = {f.evidence[0].split()[2] for f in found}
    assert "V4D303" in launch_ids, "148.7 GiB of Flash weights on one GPU (TP 1)"
    assert "V4D306" not in launch_ids, "the host's vLLM 0.20.0 is not the container's (tag latest): no fp8-KV rule"
    assert all(f.id == "V4D507" and f.title.startswith("container guide-vllm-1: ") for f in found)


def test_a_container_sees_only_its_own_gpus(engines):
    facts = Facts(target=TargetFacts(model="flash", engine="vllm"), gpu=_gpu("h200-host"), docker=engines["h200-host"])
    sub = docker_images._container_facts(facts, _c(engines["h200-host"], "v4-flash"))
    assert [d.index for d in sub.gpu.devices] == [0, 1, 2, 3] and sub.target.cmd[:2] == ["vllm", "serve"]
    assert sub.target.engine_version == "0.28.0" and isinstance(sub.python, Unknown)


def test_run_reads_the_live_engine_as_a_subprocess(tmp_path):
    """`v4doctor run` as users start it, with DOCKER_HOST pointing at the recorded engine."""
    import json
    import os
    import subprocess
    import sys

    with FakeEngine("h200-host") as engine:
        env = {**os.environ, "DOCKER_HOST": engine.url, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
        run = subprocess.run([sys.executable, "-m", "v4doctor", "run", "--select", "V4D5", "--json"],
                             capture_output=True, text=True, env=env, timeout=120, check=False)
    found = {(f["id"], f["severity"]) for f in json.loads(run.stdout)["findings"]}
    assert run.returncode == 1, run.stderr
    assert {("V4D502", "error"), ("V4D503", "warning"), ("V4D505", "error"), ("V4D506", "error")} <= found
    assert ("V4D504", "skipped") in found  # no NVML here: the driver is unknown, so that check says so
    assert "hf_aVeryRealLookingTokenValue" not in run.stdout and "sk-live-0123456789" not in run.stdout


def test_a_restart_loop_is_explained_by_the_log_diagnosis(engines):
    """The llama.cpp container's log tail goes through `v4doctor diagnose`; its root cause becomes the finding."""
    found = [f for f in _run(checks.docker_restart_loop, engines["r570-host"], _gpu("r570-host")) if "guide-llamacpp" in f.title]
    assert found and found[0].title.startswith("container guide-llamacpp (ghcr.io/ggerganov/llama.cpp:server-cuda) restarted 5 times: ")
    assert found[0].troubleshooting == "llamacpp-unknown-arch-deepseek4"
    assert any("unknown model architecture: 'deepseek4'" in e for e in found[0].evidence)
