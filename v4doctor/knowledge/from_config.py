"""A model record built from a checkpoint's own config.json (and its size), for a repo or a local
checkpoint the knowledge base does not list: a fine-tune, a re-quant, a mirror.

    {"architectures": ["DeepseekV4ForCausalLM"], "num_hidden_layers": 43, "compress_ratios": [0, 0, 4, 128, ...]}
    -> layers 43, csa_layers (ratio 4) and hca_layers (ratio 128) counted from compress_ratios

What the config does not give (the size on disk when no file sizes were read) stays absent, and the fit
says so instead of guessing.
"""

from __future__ import annotations

from typing import Any

V4_ARCHITECTURES = ("DeepseekV4ForCausalLM", "DeepseekV41ForCausalLM", "DeepseekV4ForConditionalGeneration")


def record_from_config(config: dict[str, Any], ref: str, *, disk_bytes: int | None = None) -> dict[str, Any] | None:
    """The record of an unknown DeepSeek V4 checkpoint, or None when config.json is not a V4 one."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config  # V4.1 nests it
    arch = (config.get("architectures") or text.get("architectures") or [None])[0]
    if arch not in V4_ARCHITECTURES:
        return None
    layers = _int(text.get("num_hidden_layers"))
    ratios = [r for r in (text.get("compress_ratios") or []) if isinstance(r, int)][: layers or None]
    record: dict[str, Any] = {
        "key": ref, "repo": ref, "name": ref, "aliases": [], "format": "safetensors", "kind": "instruct",
        "family": "v4.1" if "V41" in arch else "v4", "architecture": arch, "model_type": text.get("model_type"),
        "from_config": True, "layers": layers, "hidden_size": _int(text.get("hidden_size")),
        "n_routed_experts": _int(text.get("n_routed_experts")), "moe_intermediate_size": _int(text.get("moe_intermediate_size")),
        "num_nextn_predict_layers": _int(text.get("num_nextn_predict_layers")) or 1,
        "context": _int(text.get("max_position_embeddings")) or None,
        "dspark": any(str(k).startswith("dspark_") for k in config),
        "sources": [f"{ref}/config.json (read by v4doctor)"],
    }
    if ratios and "V41" not in arch:  # V4.1's ratios mean something else (kv_source_layer_ids own the KV)
        record["csa_layers"] = sum(1 for r in ratios if r == 4)
        record["hca_layers"] = sum(1 for r in ratios if r == 128)
    quant = config.get("quantization_config") or text.get("quantization_config") or {}
    fmt = str(quant.get("quant_method") or quant.get("fmt") or "").lower()
    record["expert_dtype"] = "fp8" if fmt == "fp8" else ("nvfp4" if "nvfp4" in fmt or "modelopt" in fmt else "fp4")
    if disk_bytes:
        record["disk_bytes"] = int(disk_bytes)
    return {k: v for k, v in record.items() if v is not None}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
