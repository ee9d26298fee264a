"""Facts: what the collectors read, typed, JSON round-trip, every leaf may be Unknown.

A value that could not be read is `Unknown(reason)`: never an exception, never a guess.
`to_json` / `from_json` give the snapshot format (`schema_version` at the top).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Unknown:
    """A fact that could not be read, and why ("NVML NotSupported", "no docker socket")."""

    reason: str

    def __bool__(self) -> bool:  # an Unknown is never truthy: `if facts.x:` stays safe
        return False


@dataclass(frozen=True)
class NotApplicable(Unknown):
    """A fact that does not apply to this target (no launch command given, not a GGUF).

    Checks that need it stay silent instead of reporting "could not check".
    """


def known(value: Any) -> bool:
    """True when `value` was read (is not an Unknown)."""
    return not isinstance(value, Unknown)


# --------------------------------------------------------------------------- GPU
@dataclass
class GpuProcess:
    pid: int
    used_bytes: int | Unknown
    name: str | Unknown = Unknown("not read")


@dataclass
class RemappedRows:
    correctable: int
    uncorrectable: int
    pending: bool
    failure: bool


@dataclass
class GpuDevice:
    """One GPU as NVML sees it. Sample: index 0, "NVIDIA H200", 150754820096 bytes, cc "9.0"."""

    index: int
    name: str | Unknown
    memory_total_bytes: int | Unknown
    memory_used_bytes: int | Unknown
    compute_capability: str | Unknown  # "9.0"
    pci_bus_id: str | Unknown = Unknown("not read")
    uuid: str | Unknown = Unknown("not read")
    memory_reserved_bytes: int | Unknown = Unknown("not read")  # driver reservation, not in used (NVML v2)
    mig_enabled: bool | Unknown = Unknown("not read")
    persistence_mode: bool | Unknown = Unknown("not read")
    remapped_rows: RemappedRows | Unknown = Unknown("not read")
    retired_pages_pending: bool | Unknown = Unknown("not read")
    processes: list[GpuProcess] | Unknown = Unknown("not read")
    nvlinks_active: int | Unknown = Unknown("not read")


@dataclass
class GpuLink:
    """How GPU a reaches GPU b: nvidia-smi topo words (NV#, PIX, PXB, PHB, NODE, SYS) and P2P."""

    a: int
    b: int
    link: str | Unknown  # "NV18", "PIX", "SYS", ...
    p2p_read: bool | Unknown = Unknown("not read")


@dataclass
class GpuFacts:
    driver_version: str | Unknown  # "580.159.04"
    cuda_driver_version: str | Unknown  # "13.0" (NVML reports 13000)
    nvml_version: str | Unknown = Unknown("not read")
    devices: list[GpuDevice] | Unknown = Unknown("not read")
    topology: list[GpuLink] | Unknown = Unknown("not read")


# --------------------------------------------------------------------------- system
@dataclass
class DiskFacts:
    path: str
    free_bytes: int | Unknown
    total_bytes: int | Unknown
    filesystem: str | Unknown = Unknown("not read")
    mount_point: str | Unknown = Unknown("not read")
    # the nearest existing parent, when `path` does not exist yet (left out of a snapshot when None)
    measured_at: str | None = field(default=None, metadata={"omit_if_none": True})


@dataclass
class SystemFacts:
    os: str | Unknown
    kernel: str | Unknown
    arch: str | Unknown
    cpu_model: str | Unknown
    cpu_count: int | Unknown
    ram_total_bytes: int | Unknown
    ram_available_bytes: int | Unknown
    shm_bytes: int | Unknown
    in_container: bool | Unknown
    container_runtime: str | Unknown = Unknown("not read")
    disks: list[DiskFacts] = field(default_factory=list)


# --------------------------------------------------------------------------- software
@dataclass
class BinaryFacts:
    path: str | Unknown  # Unknown("not on PATH")
    version: str | Unknown  # "0.12.3"; llama.cpp as its release tag "b9840"
    raw: str | Unknown = Unknown("not read")  # first lines of `--version`, for the evidence


@dataclass
class PythonFacts:
    version: str | Unknown
    executable: str | Unknown
    packages: dict[str, str | Unknown]  # dist name -> version, Unknown("not installed")
    torch_cuda: str | Unknown = Unknown("not read")  # "13.0" from the torch build, "cpu"


@dataclass
class HubFacts:
    token_configured: bool | Unknown
    token_source: str | Unknown  # "HF_TOKEN", "token file" (never the value)
    cache_dir: str | Unknown
    offline: bool
    hf_xet: bool | Unknown
    hf_transfer: bool | Unknown
    cached_files: list[str] | Unknown = Unknown("not read")
    cached_bytes: int | Unknown = Unknown("not read")
    incomplete_bytes: int | Unknown = Unknown("not read")
    endpoint: str | Unknown = Unknown("not read")
    # what the hub said about the target repo (v4doctor/collect/hubremote.py; docs/weights.md)
    remote: dict[str, Any] | Unknown = Unknown("not collected")


# --------------------------------------------------------------------------- target
@dataclass
class TargetFacts:
    """What the operator plans to run: a model, an engine, and maybe a launch command."""

    model: str  # what the user typed: "flash", a repo id, a local path, a GGUF
    engine: str  # vllm | sglang | llamacpp | ollama
    local_path: str | Unknown = Unknown("not a local path")
    config: dict[str, Any] | Unknown = Unknown("no config.json read")
    cmd: list[str] | Unknown = Unknown("no launch command given")
    compose_path: str | Unknown = Unknown("no compose file given")
    compose_text: str | Unknown = Unknown("no compose file given")
    engine_version: str | Unknown = Unknown("not given")  # e.g. from an image tag or a log


@dataclass
class Facts:
    """Everything gathered once about one host (or one log) and one planned deploy."""

    target: TargetFacts
    gpu: GpuFacts | Unknown = Unknown("not collected")
    system: SystemFacts | Unknown = Unknown("not collected")
    python: PythonFacts | Unknown = Unknown("not collected")
    binaries: dict[str, BinaryFacts] = field(default_factory=dict)
    hub: HubFacts | Unknown = Unknown("not collected")
    docker: dict[str, Any] | Unknown = Unknown("not collected")
    gguf: list[dict[str, Any]] | Unknown = Unknown("not collected")
    source: str = "host"  # "host", "snapshot", "log", "spec"
    collected_at: str = ""
    v4doctor_version: str = ""
    schema_version: int = SCHEMA_VERSION


# --------------------------------------------------------------------------- codec
def to_data(obj: Any) -> Any:
    """Turn facts into JSON-ready data; an Unknown becomes {"unknown": reason}."""
    if isinstance(obj, NotApplicable):
        return {"unknown": obj.reason, "applies": False}
    if isinstance(obj, Unknown):
        return {"unknown": obj.reason}
    if dataclasses.is_dataclass(obj):
        return {f.name: to_data(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if not (f.metadata.get("omit_if_none") and getattr(obj, f.name) is None)}
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    return obj


class FactsError(ValueError):
    """A snapshot that does not match the facts schema; the message names the path."""


def from_data(cls: Any, data: Any, path: str = "facts") -> Any:
    """Rebuild typed facts from JSON data, checking types on the way."""
    if isinstance(data, dict) and set(data) in ({"unknown"}, {"unknown", "applies"}) and isinstance(data["unknown"], str):
        if _allows_unknown(cls):
            return (NotApplicable if data.get("applies") is False else Unknown)(data["unknown"])
        raise FactsError(f"{path}: may not be unknown")
    return _build(cls, data, path)


def _allows_unknown(tp: Any) -> bool:
    return Unknown in _union_args(tp) or tp is Any


def _union_args(tp: Any) -> tuple:
    if typing.get_origin(tp) in (Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _build(tp: Any, data: Any, path: str) -> Any:
    if tp is Any:
        return data
    options = [a for a in _union_args(tp) if a is not Unknown]
    if len(options) > 1:
        return _build_union(options, data, path)
    tp = options[0]
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, data, path)
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(data, list):
            raise FactsError(f"{path}: expected a list")
        (item,) = typing.get_args(tp)
        return [from_data(item, v, f"{path}[{i}]") for i, v in enumerate(data)]
    if origin is dict:
        if not isinstance(data, dict):
            raise FactsError(f"{path}: expected an object")
        _, val = typing.get_args(tp)
        return {k: from_data(val, v, f"{path}.{k}") for k, v in data.items()}
    return _build_scalar(tp, data, path)


def _build_union(options: list, data: Any, path: str) -> Any:
    for option in options:
        try:
            return _build(option, data, path)
        except FactsError:
            continue
    names = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise FactsError(f"{path}: expected {names}")


def _build_scalar(tp: Any, data: Any, path: str) -> Any:
    if tp is type(None):
        if data is None:
            return None
        raise FactsError(f"{path}: expected null")
    if tp is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if tp is int and isinstance(data, bool):
        raise FactsError(f"{path}: expected int")
    if isinstance(tp, type) and isinstance(data, tp):
        return data
    raise FactsError(f"{path}: expected {getattr(tp, '__name__', tp)}, got {type(data).__name__}")


_HINTS: dict[type, dict[str, Any]] = {}


def _build_dataclass(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        raise FactsError(f"{path}: expected an object")
    hints = _HINTS.get(cls) or _HINTS.setdefault(cls, typing.get_type_hints(cls))
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = from_data(hints[f.name], data[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise FactsError(f"{path}: missing field {f.name!r}")
    return cls(**kwargs)


def facts_to_json(facts: Facts) -> dict:
    return to_data(facts)


def facts_from_json(data: Any) -> Facts:
    """Read a snapshot; raises FactsError with a one-line reason when it is not one."""
    if not isinstance(data, dict) or "target" not in data:
        raise FactsError("not a v4doctor facts snapshot (no 'target' at the top)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise FactsError(f"facts schema_version {version!r} is not supported (this v4doctor reads {SCHEMA_VERSION})")
    return from_data(Facts, data)
