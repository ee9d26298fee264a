"""The host checks, run on what a log shows: LogFacts -> Facts (source "log") -> `doctor.judge`.

A log of vLLM 0.19 loading V4 is diagnosed from its version line even when its last error is
cryptic. Only errors and warnings come back; a check skipped for a fact the log lacks says nothing.
"""

from __future__ import annotations

import re
from typing import Any

from v4doctor.facts import BinaryFacts, Facts, GpuDevice, GpuFacts, PythonFacts, TargetFacts, Unknown
from v4doctor.judge.findings import Finding, Severity
from v4doctor.logs.logfacts import LogFacts

NOT_IN_LOG = "not in the log"
_CRASH = re.compile(r"check V4D\d+ \(.*\) crashed$")  # a check's own bug says nothing about the log
_DEV_BUILD = re.compile(r"^0\.1\.dev\d+")
_BINARY = {"llamacpp": "llama-server", "ollama": "ollama"}


def to_facts(lf: LogFacts) -> Facts | None:
    """Facts from a log; None when the log names no engine (nothing to judge)."""
    if not lf.engine:
        return None
    from v4doctor.knowledge.kb import load

    version = _release(lf.engine_version)
    target = TargetFacts(model=_model_ref(lf.model, load()), engine=lf.engine, engine_version=version,
                         cmd=_launch_argv(lf))
    packages: dict[str, Any] = {}
    if lf.engine in ("vllm", "sglang") and lf.engine_version:
        packages[lf.engine] = version  # a development build stays Unknown here too
    if lf.torch_version:
        packages["torch"] = lf.torch_version
    python = PythonFacts(Unknown(NOT_IN_LOG), Unknown(NOT_IN_LOG), packages) if packages else Unknown(NOT_IN_LOG)
    binaries = {}
    if lf.engine in _BINARY and lf.engine_version:
        binaries[_BINARY[lf.engine]] = BinaryFacts(path=Unknown(NOT_IN_LOG), version=version)
    return Facts(target=target, gpu=_gpu_facts(lf), python=python, binaries=binaries, source="log")


def _launch_argv(lf: LogFacts) -> list[str] | Unknown:
    """The launch plan the log prints (an echoed command, vLLM's non-default args, SGLang's ServerArgs) as argv,
    so the launch and fit checks judge it: a TP size that does not divide the heads, weights that cannot fit.
    Only a plan that parses; anything else stays Unknown (the checks then say nothing)."""
    from v4doctor.logs.command import base_command, sglang_argv

    argv = base_command(lf) or (sglang_argv(lf.args) if lf.engine == "sglang" and lf.args else None)
    if not argv:
        return Unknown(NOT_IN_LOG)
    try:
        from v4doctor.launch import parse_command

        parse_command(argv)
    except Exception:  # a cut or odd command: not judged
        return Unknown("the launch command in the log does not parse")
    return argv


def _release(version: str | None) -> str | Unknown:
    """A comparable release number; a source build's `0.1.dev15830+g8d599d76a` (setuptools-scm's fallback) is none."""
    if not version:
        return Unknown(NOT_IN_LOG)
    if _DEV_BUILD.match(version):
        return Unknown(f"{version} is a development build without a release number ({NOT_IN_LOG})")
    return version


def _model_ref(model: str | None, kb) -> str:
    """A repo id or path from the log, resolved to what the knowledge base knows when it can be."""
    if not model:
        return ""
    base = model.replace("\\", "/").rstrip("/").split("/")[-1]
    for ref in (model, base, f"deepseek-ai/{base}"):
        if kb.find_model(ref):
            return ref
    return model


def _gpu_facts(lf: LogFacts) -> GpuFacts | Unknown:
    if not lf.gpus and not lf.driver_version:
        return Unknown(NOT_IN_LOG)
    from v4doctor.knowledge.kb import load

    kb = load()
    devices = [
        GpuDevice(
            index=g["index"],
            name=g["name"],
            memory_total_bytes=int(g["vram_mib"]) << 20 if g.get("vram_mib") else _known_memory(kb, g["name"]),
            memory_used_bytes=Unknown(NOT_IN_LOG),
            compute_capability=g.get("cc") or _known_cc(kb, g["name"]),
        )
        for g in lf.gpus
    ]
    return GpuFacts(
        driver_version=lf.driver_version or Unknown(NOT_IN_LOG),
        cuda_driver_version=lf.cuda_version or Unknown(NOT_IN_LOG),
        devices=devices if devices else Unknown(NOT_IN_LOG),
    )


def _known_memory(kb, name: str) -> int | Unknown:
    """The memory the knowledge base gives a GPU the log names by its exact model name (collect_env prints none)."""
    record = kb.gpu(name)
    exact = record and name in record.get("nvml_names", [])
    return int(record["memory_bytes_nvml"]) if exact and record.get("memory_bytes_nvml") else Unknown(NOT_IN_LOG)


def _known_cc(kb, name: str) -> str | Unknown:
    """The compute capability the knowledge base gives a GPU named in the log (collect_env prints no cc)."""
    record = kb.gpu(name)
    return record["compute_capability"] if record and record.get("compute_capability") else Unknown(NOT_IN_LOG)


_JUDGED: dict[tuple, tuple[Finding, ...]] = {}
MAX_JUDGED = 256


def host_findings(lf: LogFacts) -> list[Finding]:
    """Errors and warnings of the host checks on the log's facts. The checks are pure functions of the
    facts, so a server judges each distinct set (engine, version, model, GPUs...) once."""
    key = _judged_key(lf)
    found = _JUDGED.get(key)
    if found is None:
        found = tuple(_host_findings(lf))
        if len(_JUDGED) >= MAX_JUDGED:
            _JUDGED.clear()
        _JUDGED[key] = found
    return list(found)


def _judged_key(lf: LogFacts) -> tuple:
    """Every LogFacts field `to_facts` reads."""
    gpus = tuple(tuple(sorted(g.items())) for g in lf.gpus)
    args = repr(sorted(lf.args.items())) if lf.args else None
    return (lf.engine, lf.engine_version, lf.model, lf.torch_version, lf.driver_version, lf.cuda_version, gpus,
            lf.command, args)


def _host_findings(lf: LogFacts) -> list[Finding]:
    facts = to_facts(lf)
    if facts is None:
        return []
    from v4doctor.judge.doctor import judge

    report = judge(facts)
    keep = (Severity.ERROR, Severity.WARNING)
    return [
        f for f in report.findings
        if f.severity in keep and not f.id.startswith("V4D0") and not _CRASH.match(f.title) and not _about_absence(f)
    ]


def _about_absence(f: Finding) -> bool:
    """A finding that quotes "not in the log" judged a fact the log simply did not show (absent from a
    log is not absent on the host: "no NVIDIA GPU (not in the log)" is no finding)."""
    return NOT_IN_LOG in " ".join([f.title, f.detail, *f.evidence])
