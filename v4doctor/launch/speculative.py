"""Speculative decoding as a launch asks for it, and the draft layers it adds (pure).

    vllm serve M --speculative-config '{"method":"mtp","num_speculative_tokens":2}'   -> mtp, 2 tokens
    vllm serve M --speculative-config.method dspark --speculative-config.num_speculative_tokens 7  -> dspark, 7
    python -m sglang.launch_server --speculative-algorithm EAGLE --speculative-num-steps 3
        --speculative-eagle-topk 1 --speculative-num-draft-tokens 4                     -> eagle, 3 steps, 4 drafts

Draft layers (what the engines build next to the target, each a window-only V4 decoder layer):
vLLM's MTP builds `num_nextn_predict_layers` of them (`models/deepseek_v4/nvidia/mtp.py`:
`DeepSeekV4MultiTokenPredictor`, layers num_hidden_layers .. + num_nextn_predict_layers), DSpark
`n_mtp_layers or 3` (`models/deepseek_v4/nvidia/dspark.py`: `num_dspark_layers`); n-gram and suffix
decoding build none. Their attention layer sits past `num_hidden_layers`, so its compress ratio is 1:
only a sliding-window cache (`models/deepseek_v4/attention.py`: "MTP layer is not included in the
compress ratio list").
"""

from __future__ import annotations

import json
from typing import Any

# Methods that run a draft model with its own KV (vLLM's `use_eagle()` set plus draft_model; SGLang's EAGLE family).
DRAFT_METHODS = ("mtp", "dspark", "eagle", "eagle3", "nextn", "dflash", "draft_model", "standalone")
METHODS = DRAFT_METHODS + ("ngram", "ngram_gpu", "suffix")  # no draft model: n-gram / suffix proposers
DSPARK_DEFAULT_LAYERS = 3  # vLLM dspark.py: getattr(config, "n_mtp_layers", None) or 3


def _int(value: Any) -> int | None:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return None


def _vllm(spec) -> dict[str, Any]:
    blob = spec.flag("speculative-config")
    cfg: dict[str, Any] = {}
    if isinstance(blob, str) and blob.strip().startswith("{"):
        try:
            loaded = json.loads(blob)
            cfg = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            cfg = {}
    for key in ("method", "num_speculative_tokens", "model"):
        dotted = spec.flag(f"speculative-config.{key}")
        if dotted is not None and key not in cfg:
            cfg[key] = dotted
    method = str(cfg.get("method") or "").lower() or None
    if method is None and cfg.get("model"):  # a draft model named without a method: vLLM detects it from the name
        name = str(cfg["model"]).lower()
        method = next((m for m in ("dspark", "eagle3", "eagle", "dflash") if m in name), "draft_model")
    return {"method": method, "num_speculative_tokens": _int(cfg.get("num_speculative_tokens")) or (1 if method else 0)}


def _sglang(spec) -> dict[str, Any]:
    algo = spec.flag("speculative-algorithm")
    method = str(algo).lower() if algo not in (None, True, False) else None
    steps, topk = _int(spec.flag("speculative-num-steps")), _int(spec.flag("speculative-eagle-topk"))
    drafts = _int(spec.flag("speculative-num-draft-tokens"))
    return {"method": method, "num_speculative_tokens": drafts or (steps or 0) + (1 if method else 0),
            "num_steps": steps, "eagle_topk": topk}


def read(spec) -> dict[str, Any]:
    """{"method", "num_speculative_tokens", ...} from a LaunchSpec; method None when the launch speculates nothing."""
    if spec.engine == "vllm":
        return _vllm(spec)
    if spec.engine == "sglang":
        return _sglang(spec)
    return {"method": None, "num_speculative_tokens": 0}


def draft_layers(model: dict, method: str | None) -> int:
    """Window-only draft layers the engine adds for `method` on this checkpoint (0: no draft model)."""
    if not method or method not in DRAFT_METHODS:
        return 0
    if method == "dspark":
        return int(model.get("n_mtp_layers") or DSPARK_DEFAULT_LAYERS)
    return int(model.get("num_nextn_predict_layers") or 1)
