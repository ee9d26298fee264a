"""Checks: the engine — version floors, transformers, known-bad releases, GGUF vs safetensors (V4D201–V4D209)."""

from __future__ import annotations

from v4doctor.judge.authoring import check, error, info, known, skipped, warning

from ._host import GGUF_ENGINES, GPU_ENGINES, claim_sources, engine_floors, engine_name, gguf_for, guide_claims, guide_text, parse_version, split_cuda_tag, version_lt

_UPGRADE = {
    "vllm": "pip install -U 'vllm>={min}'",
    "sglang": "pip install -U 'sglang>={min}'",
    "llamacpp": "update llama.cpp to {min} or newer (https://github.com/ggml-org/llama.cpp/releases)",
}


@check("V4D201", title="engine version supports the checkpoint and GPU", category="engine", troubleshooting="engine-too-old",
       sources=["https://github.com/scalytics/ScalyticsCopilot/pull/69", "https://github.com/sgl-project/sglang/releases/tag/v0.5.12",
                "https://github.com/ggml-org/llama.cpp/pull/24162"],
       accepts_unknown=["gpu_family"])
def engine_version_floor(engine, engine_version, model, gpu_family, kb):
    """vLLM ≥ 0.20.0 for V4 (0.24.0 on SM120, 0.25.0 for DSpark, 0.30.0 for V4.1), SGLang ≥ 0.5.12, llama.cpp ≥ b9840,
    TensorRT-LLM ≥ 1.3.0rc26 on Hopper (#16940; its first release with V4 on Blackwell is unverified, so skipped)."""
    if parse_version(engine_version) is None:
        return skipped("engine version floor", f"cannot read the version {engine_version!r}")
    rules = engine_floors(kb, engine, model, gpu_family.get("key") if known(gpu_family) else None)
    if not rules:
        return skipped("engine version floor", f"no verified {engine_name(engine)} version floor for {model['name']}")
    never = next((r for r in rules if r.get("max_supported")), None)
    if never is not None:
        return _no_release(engine, engine_version, model, never)
    too_low = [r for r in rules if version_lt(engine_version, r["min"])]
    if not too_low:
        return None
    worst = max(too_low, key=lambda r: parse_version(r["min"]))
    return _too_old(kb, engine, engine_version, model, worst)


def _too_old(kb, engine: str, version: str, model: dict, rule: dict):
    claims = guide_claims(kb, "V4D201", engine=engine)
    return error(
        f"{engine_name(engine)} {version} is too old for {model['name']}: it needs ≥ {rule['min']}",
        f"{_sentence(rule['reason'])} {guide_text(claims)}".strip(),
        fix=f"Upgrade {engine_name(engine)} to {rule['min']} or newer.",
        commands=[_UPGRADE[engine].format(min=rule["min"])] if engine in _UPGRADE else [],
        evidence=[f"engine_version = {version}", f"floor {rule['id']} = {rule['min']}"],
        sources=rule["sources"] + claim_sources(claims),
    )


def _sentence(reason: str) -> str:
    """A knowledge-base `reason` ("initial DeepSeek V4 support landed in …") as a sentence: capital first, full stop."""
    return f"{reason[0].upper()}{reason[1:]}."


def _no_release(engine: str, version: str, model: dict, rule: dict):
    return error(
        f"no {engine_name(engine)} release is known to serve {model['name']} (installed: {version})",
        _sentence(rule["reason"]),
        fix="Use vLLM ≥ 0.30.0 (or the vllm/vllm-openai:deepseekv41-flash-0909 image) for V4.1." if model.get("family") == "v4.1" else "Use an engine that supports this checkpoint.",
        sources=rule["sources"],
    )


@check("V4D202", title="transformers version the engine needs", category="engine",
       troubleshooting="transformers-unknown-deepseek-v4",
       sources=["https://github.com/phalberg/InstructScore_HyTe/pull/5", "https://github.com/swiss-ai/model-launch/pull/138"])
def transformers_version(engine, engine_version, python, model, kb):
    """SGLang ships its own V4 config and pins transformers (0.5.12: 5.6.0); vLLM 0.33 needs transformers ≥ 5.16.1, < 5.21.0."""
    if model.get("family") != "v4" or engine not in GPU_ENGINES:
        return None
    rules = [r for r in kb.records("transformers_rule") if r["engine"] == engine
             and version_lt(engine_version, r.get("engine_min", "0")) is False]
    if not rules:
        return None
    installed = python.packages.get("transformers")
    if installed is None or not known(installed):
        return skipped("transformers version", f"transformers not read ({installed.reason if installed is not None else 'not recorded'})")
    return [f for r in rules if (f := _judge_transformers(installed, engine, engine_version, r)) is not None]


def _judge_transformers(installed: str, engine: str, engine_version: str, rule: dict):
    low = version_lt(installed, rule["min"])
    high = "below" in rule and version_lt(installed, rule["below"]) is False
    if not low and not high:
        return None
    want = f"≥ {rule['min']}" + (f", < {rule['below']}" if "below" in rule else "")
    spec = f">={rule['min']}" + (f",<{rule['below']}" if "below" in rule else "")
    return error(
        f"transformers {installed} does not fit {engine_name(engine)} {engine_version} for DeepSeek V4 (needs {want})",
        _sentence(rule["reason"]),
        fix=f"Install a matching transformers: pip install 'transformers{spec}'.",
        commands=[f"pip install 'transformers{spec}'"],
        evidence=[f"python.packages.transformers = {installed}"],
        troubleshooting=rule["troubleshooting"],
        sources=rule["sources"],
    )


@check("V4D203", title="engine release without known V4 regressions", category="engine", troubleshooting="vllm-027-symm-mem",
       sources=["https://github.com/vllm-project/vllm/issues/53320"], accepts_unknown=["gpu_family", "model"])
def engine_known_regressions(engine, engine_version, gpu_family, kb, model):
    """Some releases break V4 in known ways (vLLM 0.27.x symmetric memory; 0.24.0 DeepGEMM on SM12x). A regression
    recorded for exactly this setup (version x GPU family x checkpoint) is an error with its fix, not a warning."""
    base, _ = split_cuda_tag(engine_version)
    fam = gpu_family.get("key") if known(gpu_family) else None
    rec = model if known(model) else {}
    bad = [r for r in kb.records("engine_bad") if r["engine"] == engine and _matches(base, r["versions"])
           and r.get("when_gpu_family") in (None, fam)
           and r.get("when_model") in (None, rec.get("key"), rec.get("base"))]
    return [_regression(engine, engine_version, r) for r in bad]


def _regression(engine: str, engine_version: str, r: dict):
    exact = r.get("severity") == "error" or any(r.get(k) for k in ("when_gpu_family", "when_model"))
    make = error if exact else warning
    where = " on this GPU family" if r.get("when_gpu_family") else ""
    return make(f"{engine_name(engine)} {engine_version}: known DeepSeek V4 regression{where}", f"{r['reason']}.",
                fix=r["fix"], commands=[r["fix"].split(";")[0]] if r["fix"].startswith("export") else [],
                troubleshooting=r["troubleshooting"], sources=r["sources"])


def _matches(version: str, prefix: str) -> bool:
    """`0.27.1` matches "0.27" (a series) and "0.27.1" (one release); `0.270.0` does not."""
    return version == prefix or version.startswith(prefix + ".")


@check("V4D204", title="checkpoint format matches the engine (GGUF vs safetensors)", category="engine",
       troubleshooting="gguf-given-to-vllm",
       sources=["https://github.com/vllm-project/vllm/issues/42229", "https://github.com/ollama/ollama/issues/17264"])
def checkpoint_format(engine, model, kb):
    """vLLM/SGLang cannot serve V4 GGUFs; llama.cpp/Ollama need a GGUF (Ollama's safetensors import rejects V4)."""
    fmt = model.get("format")
    if engine in GPU_ENGINES and fmt == "gguf":
        base = kb.find_model(model.get("base", "")) or {}
        return error(f"{model['repo']} is a GGUF: {engine_name(engine)} cannot serve DeepSeek V4 GGUF files",
                     "vLLM fails with `GGUF model with architecture deepseek2 is not supported yet.` / `Unknown gguf model_type: deepseek_v4`.",
                     fix=f"Give {engine_name(engine)} the safetensors repo {base.get('repo', 'deepseek-ai/DeepSeek-V4-Flash')}, or serve this GGUF with llama.cpp.",
                     commands=[f"v4doctor run --model {base.get('key', 'flash')} --engine {engine}", "v4doctor run --engine llamacpp"])
    if engine in GGUF_ENGINES and fmt == "safetensors":
        return _needs_gguf(engine, model, kb)
    return None


def _needs_gguf(engine: str, model: dict, kb):
    gguf = gguf_for(kb, model)
    pick = f" such as {gguf['repo']}" if gguf else ""
    if engine == "ollama":
        return error(f"Ollama cannot import {model['repo']} (safetensors)",
                     "Ollama's safetensors import fails with `Error: unsupported architecture \"DeepseekV4ForCausalLM\"`.",
                     fix=f"Import a `deepseek4` GGUF{pick} through a Modelfile (`FROM .`) and `ollama create`.",
                     commands=["ollama create deepseek-v4-flash -f Modelfile"],
                     troubleshooting="ollama-safetensors-import", sources=["https://github.com/ollama/ollama/issues/17264", "https://github.com/ollama/ollama/issues/17510"])
    return info(f"llama.cpp reads GGUF files: it will need a GGUF of {model['name']}{pick}",
                "The safetensors checkpoint is for vLLM/SGLang; llama.cpp loads a `deepseek4` GGUF.")
