"""Values computed from a signature's groups, for fixes with concrete numbers.

The templates stay data; a few problems need arithmetic on what the log printed ("free 31.44 of
47.38 GiB" -> `--gpu-memory-utilization 0.65`). Each function takes the regex groups and returns
extra named values; a value it cannot compute is left out (its placeholder shows `?`).
"""

from __future__ import annotations

import math
import re
from typing import Callable

_UNITS = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
_SIZE = re.compile(r"^([\d.]+) ?([KMG]i?B)$")


def size_bytes(text: str | None) -> float | None:
    """`518.00 MiB` -> 543162368.0; None when it is not a size."""
    m = _SIZE.match(text or "")
    return _finite(m[1], _UNITS[m[2]]) if m else None


def _finite(text: str, scale: float = 1) -> float | None:
    """A printed number, or None when it is not one (`1.2.3`) or not finite (400 digits)."""
    try:
        value = float(text) * scale
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def human(n: float) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.2f} {unit}"
    return f"{n:.0f} B"


def _oom_shortfall(g: dict[str, str]) -> dict[str, str]:
    """torch OOM: how much more than was free the allocation needed."""
    tried, free = size_bytes(g.get("tried")), size_bytes(g.get("free"))
    if tried is None or free is None:
        return {}
    return {"short": human(max(tried - free, 0))}


def _fitting_utilization(g: dict[str, str]) -> dict[str, str]:
    """vLLM free-memory check: the largest --gpu-memory-utilization the free memory allows (rounded down, 0.01 margin)."""
    free, total = _finite(g.get("free") or ""), _finite(g.get("total") or "")
    if free is None or total is None or total <= 0:
        return {}
    util = math.floor(free / total * 100) / 100 - 0.01
    return {"max_util": f"{util:.2f}"} if util > 0 else {}


def _tp_divisors(g: dict[str, str]) -> dict[str, str]:
    """Heads not divisible by TP: the tensor-parallel sizes that do divide them (up to 16)."""
    try:
        heads = int(g["heads"]) if len(g.get("heads") or "") <= 9 else 0
    except (KeyError, ValueError):
        return {}
    sizes = [n for n in range(1, min(heads, 16) + 1) if heads % n == 0]
    return {"tp_sizes": ", ".join(map(str, sizes))} if heads > 0 else {}


def _kv_room(g: dict[str, str]) -> dict[str, str]:
    """Where the KV cache gets more room: the knob vLLM's message names (CPU: VLLM_CPU_KVCACHE_SPACE), else GPU memory."""
    knob = g.get("knob")
    return {"kv_room": f"raise `{knob}` (the log names it)" if knob else "raise --gpu-memory-utilization, add GPUs"}


# signature id -> (function, the names it may add; templates may use them besides the regex groups)
ADVICE: dict[str, tuple[Callable[[dict[str, str]], dict[str, str]], tuple[str, ...]]] = {
    "SIG-TORCH-CUDA-OOM": (_oom_shortfall, ("short",)),
    "SIG-VLLM-FREE-MEMORY-LESS": (_fitting_utilization, ("max_util",)),
    "SIG-VLLM-TP-HEADS-NOT-DIVISIBLE": (_tp_divisors, ("tp_sizes",)),
    "SIG-VLLM-OLD-MAX-SEQ-LEN-KV": (_kv_room, ("kv_room",)),
}


def computed_names(signature_id: str) -> set[str]:
    return set(ADVICE.get(signature_id, (None, ()))[1])


def extend(signature_id: str, groups: dict[str, str]) -> dict[str, str]:
    """The groups plus what can be computed from them for this signature."""
    entry = ADVICE.get(signature_id)
    return {**groups, **entry[0](groups)} if entry else groups
