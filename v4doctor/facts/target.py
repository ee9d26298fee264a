"""Resolve what the user asked for (`flash`, a repo id, a local path) to a model record."""

from __future__ import annotations

from typing import Any

from v4doctor.facts import TargetFacts, Unknown, known
from v4doctor.knowledge.kb import KnowledgeBase

DEFAULT_MODEL = "flash"
DEFAULT_ENGINE = "vllm"
ENGINES = ("vllm", "sglang", "llamacpp", "ollama", "trtllm")


def resolve_model(target: TargetFacts, kb: KnowledgeBase) -> dict[str, Any] | Unknown:
    from v4doctor.knowledge.quants import quant_of, with_quant

    record = kb.find_model(target.model)
    if record is not None:
        return with_quant(record, quant_of(target.model))  # hf.co/REPO:QUANT: that quant's size, provenance kept
    config = target.config
    if known(config):
        return _from_config(config, kb, target.model)
    return Unknown(f"model {target.model!r} is not in the knowledge base")


def _from_config(config: dict[str, Any], kb: KnowledgeBase, ref: str) -> dict[str, Any] | Unknown:
    """A local checkpoint: match by its config.json (architecture, layer count, dspark keys)."""
    arch = (config.get("architectures") or [None])[0]
    layers = config.get("num_hidden_layers")
    dspark = any(k.startswith("dspark_") for k in config)
    for m in kb.models:
        if m.get("format") != "safetensors" or m.get("architecture") != arch:
            continue
        if m.get("layers") == layers and bool(m.get("dspark")) == dspark and m.get("kind", "instruct") == "instruct":
            return {**m, "local": ref}
    if arch is None:
        return Unknown(f"{ref}: config.json names no architecture")
    from v4doctor.knowledge.from_config import record_from_config

    record = record_from_config(config, ref)  # a V4 checkpoint the knowledge base does not list: fitted from its config
    if record is not None:
        return record
    return Unknown(f"{ref}: architecture {arch} with {layers} layers is not a DeepSeek V4 checkpoint this knowledge base knows")
