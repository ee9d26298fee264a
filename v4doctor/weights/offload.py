"""llama.cpp offload plan for a GGUF: which flags put it in VRAM + RAM (pure arithmetic).

llama.cpp keeps everything on the GPUs with `--n-gpu-layers 999`; `--n-cpu-moe N` then keeps
the MoE expert tensors of the first N layers in system RAM. DeepSeek V4's experts are
almost all of its bytes, so moving whole layers' experts is the lever. Each GPU keeps a
reserve for the KV cache and compute buffers (~4 GiB with a q8_0 KV cache: llama.cpp
build 9851 measured a 3,973 MiB compute buffer for V4-Flash with q8_0 KV).
"""

from __future__ import annotations

from typing import Any

GIB = 1 << 30
GPU_RESERVE = 4 * GIB  # per GPU: KV cache + compute buffer (q8_0 KV)
RAM_HEADROOM = 8 * GIB  # the OS, llama.cpp itself, page cache churn
ALL_LAYERS = 999
SOURCES = ["https://korshunov.ai/en/article/8674-llama-cpp-kv-cache-quantization-cuts-deepseek-v4-flash-compute-buffer-by-3x/"]


def plan(record: dict[str, Any], vram: list[int], ram_available: int) -> dict[str, Any]:
    """Where the weights go: `gpu` (all in VRAM), `offload` (experts of N layers in RAM), `cpu`, or `none`."""
    size = record.get("tensor_bytes") or record.get("total_bytes") or 0
    experts = list(record.get("layer_expert_bytes") or [])
    gpu_room = sum(max(v - GPU_RESERVE, 0) for v in vram)
    ram_room = max(ram_available - RAM_HEADROOM, 0)
    base = {"size": size, "vram": sum(vram), "gpu_room": gpu_room, "ram_available": ram_available, "ram_room": ram_room}
    if not vram:
        return {**base, **_cpu_only(size, ram_room)}
    if size <= gpu_room:
        return {**base, "where": "gpu", "gpu_bytes": size, "cpu_bytes": 0, "flags": ["--n-gpu-layers", str(ALL_LAYERS)]}
    n, moved = _layers_to_move(size - gpu_room, experts)
    if n is not None and moved <= ram_room:
        flags = ["--n-gpu-layers", str(ALL_LAYERS), "--n-cpu-moe", str(n)]
        return {**base, "where": "offload", "n_cpu_moe": n, "gpu_bytes": size - moved, "cpu_bytes": moved, "flags": flags}
    return {**base, **_by_layers(size, record, gpu_room, ram_room)}


def _layers_to_move(excess: int, experts: list[int]) -> tuple[int | None, int]:
    """The fewest leading layers whose expert bytes cover `excess`."""
    moved = 0
    for i, n in enumerate(experts):
        moved += n
        if moved >= excess:
            return i + 1, moved
    return None, moved


def _by_layers(size: int, record: dict[str, Any], gpu_room: int, ram_room: int) -> dict[str, Any]:
    """Experts alone are not enough: offload whole layers with a smaller --n-gpu-layers."""
    if size > gpu_room + ram_room:
        return {"where": "none", "gpu_bytes": gpu_room, "cpu_bytes": ram_room, "short_by": size - gpu_room - ram_room, "flags": []}
    layers = record.get("block_count") or len(record.get("layer_expert_bytes") or []) or 1
    per_layer = max(size // layers, 1)
    on_gpu = min(gpu_room // per_layer, layers)
    flags = ["--n-gpu-layers", str(on_gpu)]
    return {"where": "offload", "n_gpu_layers": on_gpu, "gpu_bytes": on_gpu * per_layer, "cpu_bytes": size - on_gpu * per_layer, "flags": flags}


def _cpu_only(size: int, ram_room: int) -> dict[str, Any]:
    if size <= ram_room:
        return {"where": "cpu", "gpu_bytes": 0, "cpu_bytes": size, "flags": ["--n-gpu-layers", "0"]}
    return {"where": "none", "gpu_bytes": 0, "cpu_bytes": ram_room, "short_by": size - ram_room, "flags": []}
