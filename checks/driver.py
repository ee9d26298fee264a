"""Checks: the NVIDIA driver is there, and new enough for the engine's CUDA build (V4D101–V4D109)."""

from __future__ import annotations

from v4doctor.judge.authoring import Unknown, check, error, info, known, skipped

from ._host import GGUF_ENGINES, GPU_ENGINES, claim_sources, driver_tuple, engine_name, guide_claims, guide_text, split_cuda_tag, version_lt

_CPU_SOURCES = ["https://github.com/ggml-org/llama.cpp/pull/24162", "https://github.com/antirez/ds4"]


NO_DRIVER_PREFIX = "no NVIDIA driver"  # the GPU collector's reason when libnvidia-ml is absent


@check("V4D101", title="NVIDIA driver and GPUs present", category="driver", troubleshooting="no-gpu",
       sources=_CPU_SOURCES, accepts_unknown=["gpu"])
def gpu_driver_present(gpu, engine):
    """No NVIDIA driver or no GPU: vLLM/SGLang cannot start V4; llama.cpp falls back to the CPU."""
    if known(gpu) and not known(gpu.devices):
        return skipped("could not list the GPUs", f"devices unknown, because {gpu.devices.reason}")
    if known(gpu) and gpu.devices:
        return None
    if isinstance(gpu, Unknown) and not gpu.reason.startswith(NO_DRIVER_PREFIX):
        return skipped("could not list the GPUs", f"gpu unknown, because {gpu.reason}")  # not read is not "no GPU"
    why = gpu.reason if isinstance(gpu, Unknown) else "NVML lists no GPU"
    if engine in GGUF_ENGINES:
        return info(f"no NVIDIA GPU ({why}): {engine_name(engine)} will run on the CPU",
                    "llama.cpp runs DeepSeek V4 GGUFs on the CPU, slowly; the whole GGUF must fit in RAM.")
    return error(
        f"no NVIDIA GPU ({why}): {engine_name(engine)} cannot serve DeepSeek V4 here",
        f"{engine_name(engine)}'s DeepSeek V4 kernels run on CUDA GPUs (SM90/SM10x{', SM12x from vLLM 0.24' if engine == 'vllm' else ''}).",
        fix="Run on a GPU host (check with `nvidia-smi`), or serve a GGUF with llama.cpp on the CPU.",
        commands=["nvidia-smi", "v4doctor run --engine llamacpp"],
    )


@check("V4D102", title="driver new enough for the engine's CUDA build", category="driver",
       troubleshooting="driver-too-old-cuda13",
       sources=["https://github.com/modelscope/FunASR/issues/2973", "https://github.com/scalytics/ScalyticsCopilot/pull/69",
                "https://docs.nvidia.com/datacenter/tesla/drivers/supported-drivers-and-cuda-toolkit-versions.html"],
       accepts_unknown=["python", "engine_version", "launch"])
def driver_new_enough(gpu, python, engine, engine_version, kb, launch):
    """A CUDA 13 build of torch/vLLM (vLLM's default since 0.20.0) needs an R580 driver (≥ 580.65.06).
    A plan that runs in a container image brings its own CUDA build: the host's Python is not what starts (V4D313 judges the image)."""
    if engine not in GPU_ENGINES:
        return None
    if known(launch) and launch.image:
        return None
    build, basis = _cuda_build(python, engine, engine_version, kb)
    if build is None:
        return skipped("driver vs CUDA build", basis)
    floor = _floor(kb, build)
    if floor is None or not known(gpu.driver_version):
        return skipped("driver vs CUDA build", f"no driver floor for CUDA {build}" if floor is None else gpu.driver_version.reason)
    if _runs(gpu, build, floor):
        return None
    return _too_old(gpu, build, basis, floor, kb)


def _runs(gpu, build: str, floor: dict) -> bool:
    """Minor-version compatibility: a driver runs every build of its CUDA major (R580 runs 13.x, R570 12.x)."""
    if known(gpu.cuda_driver_version):
        return _major(gpu.cuda_driver_version) >= _major(build)
    return driver_tuple(gpu.driver_version) >= driver_tuple(floor["min_driver"])


def _major(cuda: str) -> int:
    return int(cuda.split(".")[0])


def _too_old(gpu, build: str, basis: str, floor: dict, kb):
    driver_cuda = gpu.cuda_driver_version if known(gpu.cuda_driver_version) else "unknown"
    claims = guide_claims(kb, "V4D102")
    return error(
        f"driver {gpu.driver_version} (CUDA {driver_cuda}) is too old for the CUDA {build} build ({basis})",
        f"CUDA {build} needs driver ≥ {floor['min_driver']} ({floor['branch']}); the engine fails at start with "
        f"`The NVIDIA driver on your system is too old`. {guide_text(claims)}".strip(),
        fix=f"Upgrade the driver to {floor['branch']} or newer (≥ {floor['min_driver']}), or use CUDA 12.9 builds, which this driver runs.",
        commands=["docker pull vllm/vllm-openai:deepseekv4-cu129", "uv pip install -U vllm --torch-backend=cu129"],
        fixers=["fix-cuda-image"],
        evidence=[f"gpu.driver_version = {gpu.driver_version}", f"gpu.cuda_driver_version = {driver_cuda}", f"build: {basis}"],
        sources=floor["sources"] + claim_sources(claims),
    )


def _cuda_build(python, engine: str, engine_version, kb) -> tuple[str | None, str]:
    """Which CUDA the engine needs, and how we know: a `+cu129` tag wins; else the newest of torch's build
    and the engine's default build (vLLM's own kernels link libcudart 13 since 0.20.0, whatever torch says)."""
    if known(engine_version):
        _, tag = split_cuda_tag(engine_version)
        if tag:
            return tag, f"{engine_name(engine)} {engine_version}"
    found = [c for c in (_torch_build(python, engine), _engine_default(kb, engine, engine_version)) if c]
    if not found:
        why = "not installed in this Python" if not known(engine_version) else f"{engine_version} has no CUDA tag"
        return None, (f"the CUDA build {engine_name(engine)} will run is unknown ({engine_name(engine)} {why}); "
                      "pass --engine-version (e.g. 0.33.0 or 0.33.0+cu129), or --cmd with the image")
    return max(found, key=lambda c: tuple(int(p) for p in c[0].split(".")))


def _torch_build(python, engine: str) -> tuple[str, str] | None:
    installed = known(python) and known(python.packages.get(engine, Unknown("")))
    if installed and known(python.torch_cuda) and python.torch_cuda[:1].isdigit():
        return python.torch_cuda, f"torch {_torch(python)} built for CUDA {python.torch_cuda}"
    return None


def _engine_default(kb, engine: str, engine_version) -> tuple[str, str] | None:
    for rec in kb.records("engine_cuda"):
        if rec["engine"] == engine and known(engine_version) and version_lt(engine_version, rec["since"]) is False:
            return rec["default_cuda"], f"{engine_name(engine)} {engine_version} ships CUDA {rec['default_cuda']} builds by default"
    return None


def _torch(python) -> str:
    v = python.packages.get("torch", Unknown(""))
    return v if known(v) else "(version unknown)"


def _floor(kb, build: str) -> dict | None:
    """The lowest driver floor of the build's CUDA major (minor-version compatibility): 13.x -> 580.65.06."""
    same_major = [r for r in kb.records("cuda_driver") if _major(r["cuda"]) == _major(build)]
    return min(same_major, key=lambda r: driver_tuple(r["min_driver"]), default=None)
