"""The inputs of a memory fit, resolved: which checkpoint, how many GPUs of what memory, which engine and
layout, from a launch plan, a host snapshot or values spelled out. Pure (the plan's text and the
snapshot are given, never read here); `v4doctor.api.fit` and the CLI's `fit` call it."""

from __future__ import annotations

import re
from typing import Any

from v4doctor.errors import UsageError
from v4doctor.facts import known

KV_DTYPES = {"bfloat16": "bf16", "float16": "f16", "auto": "fp8"}


def parse_gpus(text: str, mem: float | None, kb) -> tuple[int, float, str]:
    """"COUNTxNAME" (2xH20, 8xB200) -> (count, GiB per GPU, the knowledge base's name)."""
    m = re.fullmatch(r"\s*(\d{1,4})\s*[xX×*]\s*(\S{1,64})\s*", text or "")
    if not m or int(m.group(1)) < 1:
        raise UsageError(f"--gpus {str(text)[:64]!r}: expected COUNTxNAME, e.g. 2xH20")
    count, name = int(m.group(1)), m.group(2)
    if mem is None:
        rec = kb.gpu(name)
        if rec is None:
            raise UsageError(f"--gpus: unknown GPU {name!r}; give --gpu-mem-gib")
        mem = rec["memory_bytes_nvml"] / (1 << 30) if rec.get("memory_bytes_nvml") else float(rec["memory_gib"])
        name = rec["key"]
    elif not 0 < mem < 100_000:
        raise UsageError(f"--gpu-mem-gib {mem}: not a GPU memory size")
    return count, mem, name


def plan_spec(plan):
    """The LaunchSpec of a `v4doctor.api.Plan` (with its vLLM --config laid over), or None."""
    from v4doctor.launch import parse_compose, parse_text, with_config

    if plan is None:
        return None
    spec = parse_compose(plan.text) if plan.kind == "compose" else parse_text(plan.text)
    return with_config(spec, plan.config) if plan.config is not None else spec


def _host_gpus(gpus: str | None, gpu_mem_gib: float | None, facts, spec, kb) -> tuple[int, float, str]:
    if gpus:
        return parse_gpus(gpus, gpu_mem_gib, kb)
    if facts is not None:
        from v4doctor.launch.plan import visible_gpus

        devs = facts.gpu.devices if known(facts.gpu) and known(facts.gpu.devices) else []
        if not devs or not known(devs[0].memory_total_bytes):
            raise UsageError("the snapshot records no GPU memory; give --gpus")
        count = visible_gpus(spec, len(devs)) if spec else len(devs)
        return count, devs[0].memory_total_bytes / (1 << 30), str(devs[0].name)
    raise UsageError("give --gpus COUNTxNAME (e.g. 2xH20) or --facts FILE")


# Overrides passed to v4doctor.launch.fit.fit() as they are (engine memory settings: docs/fit.md).
FIT_OVERRIDES = ("tp", "dp", "pp", "ep", "max_model_len", "max_num_seqs", "fraction", "engine_version", "max_num_batched_tokens",
                 "async_scheduling", "kv_cache_memory_bytes", "dp_attention", "n_cpu_moe", "spec_method", "num_speculative_tokens")


def _apply_overrides(kwargs: dict, overrides: dict[str, Any]) -> dict:
    from v4doctor.launch.speculative import METHODS

    method = overrides.get("spec_method")
    if method is not None and str(method).lower() not in METHODS:
        raise UsageError(f"--speculative {str(method)[:32]!r}: expected one of {', '.join(METHODS)}")
    for name in FIT_OVERRIDES:
        if overrides.get(name) is not None:
            kwargs[name] = overrides[name]
    dtype = overrides.get("kv_cache_dtype")
    if dtype:
        d = dtype.lower()
        kwargs["kv_format"] = KV_DTYPES.get(d, d if d in ("bf16", "f16", "q8_0") else "fp8")
    return kwargs


def compute(*, model: str | None, gpus: str | None, gpu_mem_gib: float | None, plan, facts, engine: str | None,
            overrides: dict[str, Any], record: dict[str, Any] | None = None):
    """(FitResult, GPU name) for a plan, a host and overrides (tp, dp, pp, ep, max_model_len, max_num_seqs,
    fraction, kv_cache_dtype)."""
    from v4doctor.knowledge.kb import UnknownModelError, load
    from v4doctor.launch.fit import fit
    from v4doctor.launch.plan import plan as plan_of, resolve_model

    kb = load()
    spec = plan_spec(plan)
    try:
        if record is None:  # `record`: a checkpoint the knowledge base does not list, read from its config.json
            record = kb.model(model) if model else (resolve_model(spec, kb) if spec else kb.model("flash"))
    except UnknownModelError as exc:
        raise UsageError(str(exc)) from None
    if record is None:
        raise UsageError(f"model {spec.model!r} is not in the knowledge base; give --model")
    count, mem, name = _host_gpus(gpus, gpu_mem_gib, facts, spec, kb)
    default = "llamacpp" if record.get("format") == "gguf" else "vllm"
    engine = (engine or (spec.engine if spec else default)).lower()
    kwargs = _apply_overrides(plan_of(spec) if spec else {}, overrides)
    if spec is None and all(overrides.get(k) is None for k in ("tp", "dp", "pp")):
        kwargs["tp"] = count  # spelled out without a layout: tensor parallel over every GPU
    if engine in ("llamacpp", "ollama"):
        engine, kwargs["tp"] = "llamacpp", count
        kwargs.setdefault("kv_format", "f16")  # llama.cpp's default KV type
        kwargs["indexer"] = kwargs["kv_format"]
    base = kb.find_model(record["base"]) if record.get("base") else None
    if spec is not None and not kwargs.get("engine_version"):
        from v4doctor.launch.plan import image_version

        kwargs["engine_version"] = image_version(spec.image)
    try:
        return fit(record, gpus=count, gpu_mem_gib=mem, engine=engine, base=base, gpu_name=name, **kwargs), name
    except ValueError as exc:
        raise UsageError(str(exc)) from None
