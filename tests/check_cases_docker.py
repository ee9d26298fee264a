"""Conformance cases for the Docker checks V4D501–V4D506 (collected by tests/check_cases.py).

Each builder takes a host fixture from fixtures/hosts/ and puts into `facts.docker` what the
collector reads, through the real docker SDK, from a recorded engine in fixtures/docker/."""

from __future__ import annotations

import copy

from check_cases import host

_DOCKER: dict[str, dict] = {}


def _engine(scenario: str, drop: tuple[str, ...] = ()) -> dict:
    if scenario not in _DOCKER:
        from test_docker_engine import FakeEngine

        from v4doctor.collect.docker import collect

        with FakeEngine(scenario) as engine:
            _DOCKER[scenario] = collect(engine.url)
    docker = copy.deepcopy(_DOCKER[scenario])
    docker["containers"] = [c for c in docker["containers"] if c["name"] not in drop]
    return docker


def on(host_name: str, scenario: str, *drop: str):
    def build():
        facts = host(host_name)
        facts.docker = _engine(scenario, drop)
        return facts

    return build


HEALTHY = ("sglang-v4",)  # the h200 scenario without its broken SGLang container

CASES = [
    ("V4D501", on("4xh200", "no-toolkit-host"), "error", "Docker refused the GPU request: could not select device driver"),
    ("V4D501", on("4xh200", "h200-host"), "ok", "nvidia runtime registered; every engine container asks for GPUs"),
    ("V4D502", on("4xh200", "h200-host"), "error", "SGLang with 4 GPUs on Docker's default 64 MiB /dev/shm"),
    ("V4D502", on("4xh200", "h200-host", *HEALTHY), "ok", "vLLM with 4 GPUs runs with ipc: host"),
    ("V4D503", on("4xh200", "h200-host"), "warning", "SGLang downloads from the Hub with no cache volume"),
    ("V4D503", on("4xh200", "h200-host", *HEALTHY), "ok", "vLLM mounts hf_cache, Ollama mounts /root/.ollama"),
    ("V4D504", on("driver570-vllm020-cu130", "r570-host"), "error", "the guide's vllm-openai:latest is CUDA 13; the driver is R570"),
    ("V4D504", on("4xh200", "h200-host"), "ok", "CUDA 13.0 and 12.9 images on a 580.65.06 (CUDA 13.0) driver"),
    ("V4D505", on("4xh200", "h200-host"), "error", "SGLang restarted 12 times; its log says transformers lacks deepseek_v4"),
    ("V4D505", on("4xh200", "h200-host", *HEALTHY), "ok", "running containers, no restarts"),
    ("V4D506", on("4xh200", "h200-host"), "error", "SGLang 0.5.10.post1 is below the 0.5.12 floor for V4"),
    ("V4D506", on("driver570-vllm020-cu130", "r570-host"), "info", "vllm-openai:latest names no version"),
    ("V4D506", on("4xh200", "h200-host", *HEALTHY), "ok", "vLLM 0.28.0 is above the 0.20.0 floor"),
    ("V4D507", on("driver570-vllm020-cu130", "r570-host"), "error", "the guide's TP1 Flash command: ~149 GiB of weights on one 80 GB GPU"),
    ("V4D507", on("4xh200", "h200-host"), "ok", "the DP4+EP vLLM command and the SGLang TP4 command pass the launch checks"),
]
