"""A local checkpoint folder as the memory fit needs it: its config.json and the bytes of its weights.

    /models/my-v4-finetune/  config.json  model-00001-of-00046.safetensors ...  ->  (config, 159617149040)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from v4doctor.errors import UsageError

WEIGHT_SUFFIXES = (".safetensors", ".gguf")


def read_config(config: Path) -> dict[str, Any]:
    """A checkpoint's config.json as a dict; an unreadable or non-object file is a UsageError naming it."""
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {config}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{config}: not a JSON object")
    return data


def read_checkpoint(path: str) -> tuple[dict[str, Any], int | None]:
    """(config.json as a dict, total bytes of the weight files or None when there are none)."""
    p = Path(path).expanduser()
    config = p / "config.json"
    if not config.is_file():
        raise UsageError(f"{path}: no config.json in this folder")
    sizes = [f.stat().st_size for f in p.iterdir() if f.is_file() and f.name.endswith(WEIGHT_SUFFIXES)]
    return read_config(config), (sum(sizes) or None)
