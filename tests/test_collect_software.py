"""Python packages from real metadata (real dist-info folders), binaries as real executables on PATH."""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import time

import pytest

from v4doctor.collect import software
from v4doctor.facts import Unknown, known

# --------------------------------------------------------------------------- packages


def _dist(site, name: str, version: str, files: dict[str, str] | None = None) -> None:
    """A real installed distribution: `<name>-<version>.dist-info/METADATA` plus package files."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for rel, text in (files or {}).items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_installed_package_versions_match_metadata():
    facts = software.collect_python()
    assert facts.packages["huggingface_hub"] == importlib.metadata.version("huggingface_hub")
    assert facts.packages["nvidia-ml-py"] == importlib.metadata.version("nvidia-ml-py")
    assert facts.version == ".".join(map(str, sys.version_info[:3]))
    assert set(facts.packages) == set(software.PACKAGES)


def test_missing_packages_are_unknown_not_installed(site):
    assert software.package_version(("vllm-does-not-exist",)) == Unknown("not installed")


def test_alternate_distribution_names(site):
    _dist(site, "flashinfer-python", "0.6.1")
    _dist(site, "deep_gemm", "2.1.1")
    assert software.package_version(software.PACKAGES["flashinfer"]) == "0.6.1"
    assert software.package_version(software.PACKAGES["deep_gemm"]) == "2.1.1"


def test_packages_are_never_imported(site):
    _dist(site, "vllm", "0.33.0", {"vllm/__init__.py": "raise RuntimeError('imported!')\n"})
    facts = software.collect_python()
    assert facts.packages["vllm"] == "0.33.0" and "vllm" not in sys.modules


@pytest.mark.parametrize(
    "version, expected",
    [("2.9.1+cu130", "13.0"), ("2.8.0+cu128", "12.8"), ("2.4.0+cu118", "11.8"), ("2.9.1+cpu", "cpu"), ("2.11.0", None)],
)
def test_cuda_from_local_version(version, expected):
    assert software.cuda_from_local_version(version) == expected


def test_torch_cuda_from_version_py_when_the_version_has_no_local_tag(site):
    """PyPI's default Linux wheel says `2.11.0` in metadata; torch/version.py says CUDA 13.0
    (the recorded H200 host: `2.11.0+cu130 13.0` at runtime, `2.11.0` in `pip list`)."""
    version_py = "__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n"
    _dist(site, "torch", "2.11.0", {"torch/version.py": version_py, "torch/__init__.py": "raise RuntimeError('imported!')\n"})
    assert software.torch_cuda() == "13.0"
    assert "torch" not in sys.modules


@pytest.mark.parametrize(
    "text, expected",
    [
        ("cuda: Optional[str] = '12.9'\n", "12.9"),
        ("cuda = '12.1'\nhip = None\n", "12.1"),
        ("cuda: Optional[str] = None\nhip: Optional[str] = '6.4.43482'\n", "rocm 6.4.43482"),
        ("cuda: Optional[str] = None\nhip: Optional[str] = None\n", "cpu"),
    ],
)
def test_parse_torch_version_py(text, expected):
    assert software.parse_torch_version_py(text) == expected


def test_torch_cuda_prefers_the_local_tag(site):
    _dist(site, "torch", "2.9.1+cu129")
    assert software.torch_cuda() == "12.9"


# --------------------------------------------------------------------------- binaries
# Real --version outputs: llama.cpp new style (ggml-org/llama.cpp PR #28971), old style
# (kyuz0/amd-strix-halo-toolboxes issue #36), ollama with a stale server (ollama/ollama
# issue #10901), nvidia-smi 580 and 610 (`DRIVER version` deprecated for `KMD version`,
# PrismML-Eng/Bonsai-demo PR #122), nvcc from the recorded H200 host.
OUTPUTS = {
    "llama-server": ("", "version: 0.4.1-dev (build 10991, commit 930e2fa59)\nbuilt with AppleClang 21.0.0.21000334 for Darwin arm64\n", "b10991"),
    "llama-cli": ("", "version: 7370 (594696fb)\n", "b7370"),
    "ollama": ("ollama version is 0.7.1\nWarning: client version is 0.8.0\n", "", "0.7.1"),
    "nvidia-smi": ("NVIDIA-SMI version  : 580.95.05\nNVML version        : 580.95\nDRIVER version      : 580.95.05\nCUDA Version        : 13.0\n", "", "580.95.05"),
    "nvcc": ("nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 13.0, V13.0.88\n", "", "13.0"),
    "docker": ("Docker version 28.2.2, build e6534b4\n", "", "28.2.2"),
}


def _script(bindir, name: str, body: str) -> None:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _quoted(text: str) -> str:
    return "printf '%s' '" + text.replace("'", "'\\''") + "'"


@pytest.fixture
def bindir(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    monkeypatch.setenv("PATH", str(d))
    return d


def test_versions_of_real_binaries_on_path(bindir):
    for name, (out, err, _) in OUTPUTS.items():
        _script(bindir, name, f"{_quoted(out)}\n{_quoted(err)} >&2\n")
    facts = software.collect_binaries()
    assert {name: f.version for name, f in facts.items()} == {name: v for name, (_, _, v) in OUTPUTS.items()}
    assert facts["llama-server"].path == str(bindir / "llama-server")
    assert facts["ollama"].raw == "ollama version is 0.7.1 | Warning: client version is 0.8.0"


def test_nvidia_smi_610_deprecated_driver_line_is_not_a_version(bindir):
    out = 'NVIDIA-SMI version  : 610.88\nDRIVER version      : Deprecated, see "KMD version" instead\nCUDA UMD version    : 13.3\n'
    _script(bindir, "nvidia-smi", _quoted(out) + "\n")
    assert software.collect_binaries()["nvidia-smi"].version == "610.88"


def test_absent_binaries_are_not_on_path(bindir):
    facts = software.collect_binaries()
    assert all(f.path == Unknown("not on PATH") and f.version == Unknown("not on PATH") for f in facts.values())


SLEEP = shutil.which("sleep")


def test_hung_binaries_time_out_in_parallel(bindir):
    """A wrapper script whose child hangs (the child holds the pipes) is ended too."""
    for name in ("llama-server", "ollama", "nvcc"):
        _script(bindir, name, f"{SLEEP} 5\necho never\n")
    start = time.monotonic()
    facts = software.collect_binaries()
    elapsed = time.monotonic() - start
    assert facts["ollama"].version == Unknown("timed out") and facts["nvcc"].version == Unknown("timed out")
    assert facts["llama-server"].path == str(bindir / "llama-server")
    assert elapsed < 2 * software.VERSION_TIMEOUT_S  # three 1.5 s timeouts, run side by side


def test_unrecognised_output_says_what_it_saw(bindir):
    _script(bindir, "docker", "echo 'podman version 5.2.2'\n")
    version = software.collect_binaries()["docker"].version
    assert isinstance(version, Unknown) and "podman version 5.2.2" in version.reason


def test_a_binary_that_cannot_execute(bindir):
    (bindir / "ollama").write_text("not a program")
    (bindir / "ollama").chmod(0o755)
    facts = software.collect_binaries()["ollama"]
    assert known(facts.path) and isinstance(facts.version, Unknown) and "cannot run" in facts.version.reason
