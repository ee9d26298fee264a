"""Checks: the system around the GPUs — /dev/shm for multi-GPU (V4D120–V4D129)."""

from __future__ import annotations

from v4doctor.judge.authoring import check, error, known, skipped

from ._host import GIB, GPU_ENGINES, gib

SHM_FLOOR = 1 * GIB  # v4doctor's floor; Docker's default is 64 MiB, the guide's compose sets 16gb


@check("V4D120", title="/dev/shm large enough for multi-GPU", category="system", troubleshooting="shm-too-small",
       sources=["https://docs.vllm.ai/en/v0.8.3/deployment/docker.html", "https://github.com/NVIDIA/nccl/issues/290"])
def shm_for_multi_gpu(system, gpus, engine):
    """NCCL and the engine's worker processes share tensors through /dev/shm; Docker gives only 64 MiB by default."""
    if engine not in GPU_ENGINES or len(gpus) < 2:
        return None
    if not known(system.shm_bytes):
        return skipped("/dev/shm size", f"/dev/shm size unknown, because {system.shm_bytes.reason}")
    if system.shm_bytes >= SHM_FLOOR:
        return None
    where = "this container" if known(system.in_container) and system.in_container else "this host"
    return error(
        f"/dev/shm is {gib(system.shm_bytes)} in {where}, with {len(gpus)} GPUs",
        "Multi-GPU vLLM/SGLang exchange data through shared memory; with Docker's 64 MiB default NCCL fails or hangs.",
        fix="Start the container with --ipc=host (or --shm-size 16g); in compose: `ipc: host` or `shm_size: 16gb`.",
        commands=["docker run --ipc=host ...", "docker run --shm-size 16g ..."],
        fixers=["fix-shm"],
        evidence=[f"system.shm_bytes = {system.shm_bytes}"],
    )
