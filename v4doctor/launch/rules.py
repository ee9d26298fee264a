"""Small pure facts about a launch plan that the V4D3xx checks and the fixers share."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from v4doctor.facts import known
from v4doctor.launch.plan import image_version
from v4doctor.launch.spec import LaunchSpec

V4_TOKENIZER_MODES = ("auto", "deepseek_v4", "deepseek_v41")
FLASH_REPO = "deepseek-ai/DeepSeek-V4-Flash"
# Flags whose kernels exist only on Blackwell data-center GPUs (SM10x); review §2c, §4b/4c, v4-facts §3.2.
BLACKWELL_DC_ONLY = (
    ("attention-config.use_fp4_indexer_cache", "true", "the FP4 (MXFP4) indexer cache"),
    ("attention-config.indexer_kv_dtype", "mxfp4", "the FP4 (MXFP4) indexer cache"),
    ("moe-backend", "deep_gemm_mega_moe", "MegaMoE (deep_gemm_mega_moe)"),
    ("enable-deepseek-v4-fp4-indexer", "true", "SGLang's FP4 indexer"),
)


def version_of(spec: LaunchSpec, engine_version, engine: str | None = None) -> str | None:
    """The engine version the plan runs: the image tag's, else the given/installed one of the same engine."""
    tagged = image_version(spec.image)
    if tagged:
        return tagged
    if spec.image or (engine and engine != spec.engine):  # latest/nightly/deepseekv4-* tags; another engine's version
        return None
    return engine_version if known(engine_version) and engine_version else None


def tracks_newest(spec: LaunchSpec) -> bool:
    """The plan runs whatever is newest: an engine image tagged latest/nightly/dev (or untagged)."""
    if not spec.image:
        return False
    tag = spec.image.rsplit(":", 1)[1] if ":" in spec.image.rsplit("/", 1)[-1] else "latest"
    return tag.split("-")[0] in ("latest", "nightly", "dev")


def offloads(spec: LaunchSpec, model: dict | None) -> bool:
    """llama.cpp/Ollama keeping weights in RAM: Ollama always may; llama-server with -ngl below the layers or --cpu-moe."""
    if spec.engine == "ollama":
        return True
    if spec.engine != "llamacpp":
        return False
    if any(spec.flag(f) is not None for f in ("cpu-moe", "n-cpu-moe", "override-tensor")):
        return True
    ngl = str(spec.flag("gpu-layers", "")).lower()
    if ngl in ("", "auto"):
        return True
    return ngl != "all" and ngl.isdigit() and int(ngl) < int((model or {}).get("layers", 43)) + 1


def vt(version: str | None) -> Version | None:
    if not version:
        return None
    try:
        return Version(re.split(r"[+-]cu\d", version.lstrip("v"))[0])
    except InvalidVersion:
        return None


def between(version: str | None, low: str, high: str | None = None) -> bool:
    """low <= version (< high); False when the version is unknown."""
    v = vt(version)
    return v is not None and v >= Version(low) and (high is None or v < Version(high))


def blackwell_flags(spec: LaunchSpec) -> list[tuple[str, str]]:
    """(flag name, what it enables) for every Blackwell-DC-only flag the spec sets."""
    out = []
    for name, value, what in BLACKWELL_DC_ONLY:
        got = spec.flag(name)
        if got is not None and str(got).lower() == value:
            out.append((name, what))
    return out


def is_gguf(spec: LaunchSpec, model: dict | None) -> bool:
    return bool(spec.model and spec.model.lower().endswith(".gguf")) or bool(model and model.get("format") == "gguf")


def cuda13_image(image: str | None) -> bool:
    """A vLLM image that is a CUDA 13.0 build: `deepseekv4-cu130`, `-cu130` tags, or a plain vX.Y.Z >= 0.20."""
    if not image or "vllm-openai" not in image:
        return False
    tag = image.rsplit(":", 1)[1] if ":" in image else "latest"
    if "cu130" in tag:
        return True
    if "cu12" in tag:
        return False
    if tag in ("latest", "nightly"):
        return True  # the default build has been CUDA 13.0 since vLLM 0.20.0
    v = vt(image_version(image))
    return v is not None and v >= Version("0.20.0")


def cu129_tag(image: str) -> str | None:
    """The CUDA 12.9 build of a vLLM image, where one is published (`deepseekv4-cu129`, `vX.Y.Z-cu129`)."""
    name, _, tag = image.rpartition(":")
    if tag.endswith("cu130"):
        return f"{name}:{tag[:-5]}cu129"
    if re.fullmatch(r"v\d+\.\d+\.\d+", tag):
        return f"{name}:{tag}-cu129"
    return None


def driver_major(gpu) -> int | None:
    if not known(gpu) or not known(gpu.driver_version):
        return None
    m = re.match(r"(\d+)", str(gpu.driver_version))
    return int(m.group(1)) if m else None
