"""Python engines from package metadata (never imported) and serving binaries on PATH.

Importing torch or vllm takes seconds and may itself crash on a broken CUDA setup, so
versions come from `importlib.metadata` and torch's CUDA build from the text of its
`torch/version.py`. Binaries answer `--version` in parallel threads with a short timeout.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from v4doctor.facts import BinaryFacts, PythonFacts, Unknown, known

# Fact key -> distribution names to try, in order (the first installed one wins).
PACKAGES = {
    "vllm": ("vllm",),
    "sglang": ("sglang",),
    "transformers": ("transformers",),
    "torch": ("torch",),
    "flashinfer": ("flashinfer-python", "flashinfer"),
    "deep_gemm": ("deep-gemm", "deep_gemm"),
    "llama-cpp-python": ("llama-cpp-python",),
    "triton": ("triton",),
    "huggingface_hub": ("huggingface_hub",),
    "hf_xet": ("hf_xet",),
    "hf_transfer": ("hf_transfer",),
    "nvidia-ml-py": ("nvidia-ml-py",),
}
NOT_INSTALLED = "not installed"
VERSION_TIMEOUT_S = 1.5

# llama.cpp: `version: 7370 (594696fb)` (older builds) or
# `version: 0.4.1-dev (build 10991, commit 930e2fa59)`; recorded as the release tag b<build>.
_LLAMA = (r"version: \S+ \(build (\d+)", r"version: (\d+) \(")
_TAG_PREFIX = {"llama-server": "b", "llama-cli": "b"}
# Binary -> (argv after the name, regexes whose first group is the version, tried in order).
BINARIES = {
    "llama-server": (["--version"], _LLAMA),
    "llama-cli": (["--version"], _LLAMA),
    "ollama": (["--version"], (r"ollama (?:server )?version is (\S+)", r"client version is (\S+)")),
    # nvidia-smi 610+ prints `DRIVER version : Deprecated, see "KMD version" instead`.
    "nvidia-smi": (["--version"], (r"(?i)KMD version\s*:\s*(\d\S*)", r"(?i)DRIVER version\s*:\s*(\d\S*)",
                                   r"(?i)NVIDIA-SMI version\s*:\s*(\d\S*)")),
    "nvcc": (["--version"], (r"release (\d+\.\d+)",)),
    "docker": (["--version"], (r"Docker version ([^,\s]+)",)),
}


# --------------------------------------------------------------------------- Python
def collect_python() -> PythonFacts:
    """Interpreter and engine package versions, read from installed metadata only."""
    return PythonFacts(
        version=platform.python_version(),
        executable=sys.executable or Unknown("sys.executable is empty"),
        packages={key: package_version(names) for key, names in PACKAGES.items()},
        torch_cuda=torch_cuda(),
    )


def _distribution(names: tuple[str, ...]) -> metadata.Distribution | None:
    for name in names:
        try:
            return metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def package_version(names: tuple[str, ...]) -> str | Unknown:
    dist = _distribution(names)
    if dist is None:
        return Unknown(NOT_INSTALLED)
    return dist.version or Unknown(f"{names[0]} metadata has no version")


def cuda_from_local_version(version: str) -> str | None:
    """`2.9.1+cu130` -> "13.0", `2.9.1+cpu` -> "cpu", `2.9.1` -> None (no local tag)."""
    tag = version.partition("+")[2]
    m = re.fullmatch(r"cu(\d+)(\d)", tag)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    return "cpu" if tag == "cpu" else None


def parse_torch_version_py(text: str) -> str | Unknown:
    """`cuda: Optional[str] = '13.0'` -> "13.0"; `cuda = None` with `hip = '6.4…'` -> "rocm 6.4…"."""
    cuda = re.search(r"^cuda(?:\s*:[^=\n]*)?\s*=\s*['\"]?([^'\"\s]+)", text, re.M)
    if cuda and cuda.group(1) != "None":
        return cuda.group(1)
    hip = re.search(r"^hip(?:\s*:[^=\n]*)?\s*=\s*['\"]([^'\"\s]+)", text, re.M)
    if hip:
        return f"rocm {hip.group(1)}"
    return "cpu" if cuda else Unknown("torch/version.py names no CUDA build")


def torch_cuda() -> str | Unknown:
    """The CUDA torch was built for: the `+cu130` tag, else torch/version.py (not imported)."""
    dist = _distribution(("torch",))
    if dist is None:
        return Unknown(NOT_INSTALLED)
    from_tag = cuda_from_local_version(dist.version or "")
    if from_tag:
        return from_tag
    try:
        text = dist.read_text("../torch/version.py") or _located_text(dist)
    except (OSError, UnicodeDecodeError) as exc:
        return Unknown(f"cannot read torch/version.py: {exc}")
    return parse_torch_version_py(text) if text else Unknown("torch/version.py not found")


def _located_text(dist: metadata.Distribution) -> str | None:
    path = dist.locate_file("torch/version.py")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


# --------------------------------------------------------------------------- binaries
def collect_binaries(names: dict | None = None) -> dict[str, BinaryFacts]:
    """Which serving tools are on PATH and their versions, `--version` run in parallel."""
    table = names or BINARIES
    with ThreadPoolExecutor(max_workers=len(table)) as pool:
        futures = {name: pool.submit(binary, name, *spec) for name, spec in table.items()}
    return {name: f.result() for name, f in futures.items()}


def binary(name: str, args: list[str], patterns: tuple[str, ...], timeout: float = VERSION_TIMEOUT_S) -> BinaryFacts:
    path = shutil.which(name)
    if path is None:
        return BinaryFacts(path=Unknown("not on PATH"), version=Unknown("not on PATH"))
    output = run_version(path, args, timeout)
    if not known(output):
        return BinaryFacts(path=path, version=output)
    version = parse_version(output, patterns)
    if known(version):
        version = _TAG_PREFIX.get(name, "") + version
    return BinaryFacts(path=path, version=version, raw=version_evidence(output, patterns))


def run_version(path: str, args: list[str], timeout: float) -> str | Unknown:
    """stdout + stderr of `path args` (llama.cpp prints its version on stderr).

    The binary runs in its own process group so that a timeout also ends a child a
    wrapper script started, which would otherwise hold the pipes open."""
    try:
        proc = subprocess.Popen([path, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        return Unknown(f"cannot run {path}: {exc.strerror or exc}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Unknown("timed out")
    return out + err


def parse_version(output: str, patterns: tuple[str, ...]) -> str | Unknown:
    """First pattern that matches, e.g. `version: 9840 (5c0d16a)` -> "9840"."""
    for pattern in patterns:
        m = re.search(pattern, output)
        if m:
            return m.group(1)
    line = version_evidence(output, ())
    return Unknown(f"unrecognised --version output: {line!r}" if line else "empty --version output")


def version_evidence(output: str, patterns: tuple[str, ...]) -> str:
    """The output lines that carry a version (all of them for ollama's two), else the first line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    hits = [ln for ln in lines if any(re.search(p, ln) for p in patterns)]
    return " | ".join(hits or lines[:1])[:300]
