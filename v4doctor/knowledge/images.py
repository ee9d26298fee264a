"""Docker image references: which engine an image runs, the version and CUDA build its tag or env names.

Pure string parsing, no I/O: `split_image("docker.io/vllm/vllm-openai:v0.28.0")` ->
`("vllm/vllm-openai", "v0.28.0")`; `tag_cuda("deepseekv4-cu130")` -> "13.0".
"""

from __future__ import annotations

import re

# Image repositories of the engines v4doctor knows (registry prefix and `library/` stripped).
ENGINE_IMAGES = {
    "vllm/vllm-openai": "vllm",
    "lmsysorg/sglang": "sglang",
    "ghcr.io/ggml-org/llama.cpp": "llamacpp",
    "ghcr.io/ggerganov/llama.cpp": "llamacpp",  # the old org name, still in the guide
    "ollama/ollama": "ollama",
}
# Where each engine keeps downloaded weights inside its container.
CACHE_DIRS = {
    "vllm": ("/root/.cache/huggingface",),
    "sglang": ("/root/.cache/huggingface",),
    "llamacpp": ("/root/.cache/llama.cpp",),
    "ollama": ("/root/.ollama",),
}
_CU_TAG = re.compile(r"(?:^|-)cu(\d{2})(\d)(?:$|-)")  # -cu129, deepseekv4-cu130
_REQUIRE_CUDA = re.compile(r"cuda>=(\d+\.\d+)")  # NVIDIA_REQUIRE_CUDA="cuda>=12.9 brand=..."


def split_image(ref: str) -> tuple[str, str]:
    """`docker.io/vllm/vllm-openai:v0.28.0` -> ("vllm/vllm-openai", "v0.28.0"); no tag -> "latest"."""
    ref = ref.split("@", 1)[0]
    name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        name = name.removeprefix(prefix)
    return name.removeprefix("library/"), tag or "latest"


def engine_of(ref: str) -> str | None:
    """The engine an image runs (vllm, sglang, llamacpp, ollama), or None for other images."""
    name, _ = split_image(ref)
    return next((engine for repo, engine in ENGINE_IMAGES.items() if name == repo or name.startswith(repo + "-")), None)


def tag_version(engine: str, tag: str) -> str | None:
    """The engine version a tag names: v0.28.0-cu129 -> 0.28.0, server-cuda-b9840 -> b9840, latest -> None."""
    if engine == "llamacpp":
        m = re.search(r"(?:^|-)b(\d{3,6})(?:$|-)", tag)
        return f"b{m.group(1)}" if m else None
    m = re.match(r"^v?(\d+\.\d+\.\d+(?:\.post\d+|rc\d+)?)(?:$|-)", tag)
    return m.group(1) if m else None


def tag_cuda(tag: str) -> str | None:
    """The CUDA build a tag names: `-cu129` -> "12.9", `deepseekv4-cu130` -> "13.0"."""
    m = _CU_TAG.search(tag)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def image_cuda(env: dict[str, str]) -> str | None:
    """The CUDA an image needs, from its env: NVIDIA_REQUIRE_CUDA "cuda>=12.9 …", else CUDA_VERSION "13.0.2"."""
    m = _REQUIRE_CUDA.search(env.get("NVIDIA_REQUIRE_CUDA", ""))
    if m:
        return m.group(1)
    parts = env.get("CUDA_VERSION", "").split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else None
