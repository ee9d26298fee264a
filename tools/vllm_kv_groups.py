"""Run vLLM's own V4 KV-cache grouping on DeepSeek V4 layer specs and write what it decides, for tests/test_fit_spec_decode.py.

Real engine code where it decides: the specs are built with vLLM's own classes (`v1/kv_cache_interface.py`:
`MLAAttentionSpec`, `SlidingWindowMLASpec`, as `models/deepseek_v4/attention.py`, `compressor.py` and
`v1/attention/backends/mla/sparse_swa.py` fill them for `fp8_ds_mla`), one window-only layer per draft layer
(the MTP/DSpark decoder layers sit past num_hidden_layers, compress ratio 1), and grouped, sized and counted by
`v1/core/kv_cache_planning.py` (`get_kv_cache_groups`, `_pool_bytes_per_block`) and each group's
`max_memory_usage_bytes`, exactly as `get_max_concurrency_for_kv_cache_config` sums them. The layout is BLHNC,
the block-outermost layout `DeepseekV4IndexerBackend.supported_kv_cache_layouts` asks for.

    /work/venv-vllm/bin/python tools/vllm_kv_groups.py > fixtures/fit/vllm-0.33.0-kv-groups.json
    /work/venv-vllm/bin/python tools/vllm_kv_groups.py /tmp/vllm-0.26.0 > fixtures/fit/vllm-0.26.0-kv-groups.json

The second form runs another release's unpacked wheel (`pip download --no-deps vllm==0.26.0`, unzip) on the same
torch. 0.22-0.26 spell the spec fields differently (`compress_ratio`, 584 B from `model_version`) and pack the groups
with `group_and_unify_kv_cache_specs` / `_get_kv_cache_groups_uniform_groups`; their figures are the block
(`_pool_bytes_per_block`), a request's blocks (`get_max_concurrency_for_kv_cache_config` on 10^6 blocks) and the
needed bytes (`_max_memory_usage_bytes_from_groups`).
"""

import json
import os
import sys
import types

os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # its INFO lines go to stdout, where the JSON goes
if len(sys.argv) > 1:  # another release's unpacked wheel first on the path
    sys.path.insert(0, sys.argv[1])

import dataclasses
import math

import torch
import vllm
from vllm.utils.math_utils import cdiv
from vllm.v1.kv_cache_interface import MLAAttentionSpec, SlidingWindowMLASpec

OLD = not hasattr(MLAAttentionSpec, "__dataclass_fields__") or "tokens_per_state" not in MLAAttentionSpec.__dataclass_fields__
if OLD:
    from vllm.v1.core import kv_cache_utils as planning
    from vllm.v1.core.kv_cache_utils import KVCacheConfig
else:
    from vllm.config.cache import _layout_from_name
    from vllm.v1.core import kv_cache_planning as planning


def _spec(cls, **kw):
    """A spec with the fields this release has: tokens_per_state (0.29+) is compress_ratio before."""
    if OLD and "tokens_per_state" in kw:
        kw["compress_ratio"] = kw.pop("tokens_per_state")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in kw.items() if k in names})

INDEXER_DIM = {"fp8": 132, "mxfp4": 68}


def layer_specs(ratios: list[int], draft: int, indexer: str) -> dict:
    out: dict = {}
    for i, r in enumerate(list(ratios) + [0] * draft):
        pre = f"model.layers.{i}.attn"
        out[pre + ".swa_cache"] = _spec(SlidingWindowMLASpec,
            block_size=64, num_kv_heads=1, max_tp_shards=1, head_size=512, dtype=torch.uint8, sliding_window=128,
            cache_dtype_str="fp8_ds_mla", state_content_bytes=584, alignment=576, model_version="deepseek_v4",
            is_draft=i >= len(ratios))
        if r > 1:
            out[pre] = _spec(MLAAttentionSpec,
                block_size=256, num_kv_heads=1, max_tp_shards=1, head_size=512, dtype=torch.uint8, tokens_per_state=r,
                cache_dtype_str="fp8_ds_mla", alignment=576, model_version="deepseek_v4", state_content_bytes=584)
            coff = 1 + (r == 4)
            out[pre + ".compressor.state"] = _spec(SlidingWindowMLASpec,
                block_size=4 if r == 4 else 8, num_kv_heads=1, max_tp_shards=1, head_size=2 * 512 * coff,
                dtype=torch.float32, sliding_window=coff * r, alignment=576)
        if r == 4:
            out[pre + ".indexer.k_cache"] = _spec(MLAAttentionSpec,
                block_size=256, num_kv_heads=1, max_tp_shards=1, head_size=INDEXER_DIM[indexer], dtype=torch.uint8,
                tokens_per_state=4, alignment=576)
            out[pre + ".indexer.compressor.state"] = _spec(SlidingWindowMLASpec,
                block_size=4, num_kv_heads=1, max_tp_shards=1, head_size=2 * 128 * 2, dtype=torch.float32,
                sliding_window=8, alignment=576)
    return out


def config(max_model_len: int, in_flight: int):
    cache = types.SimpleNamespace(num_gpu_blocks_override=None)
    if not OLD:
        cache.get_resolved_kv_cache_layout = lambda: _layout_from_name("BLHNC")
    return types.SimpleNamespace(
        scheduler_config=types.SimpleNamespace(disable_hybrid_kv_cache_manager=False, max_num_batched_tokens=in_flight),
        cache_config=cache, max_in_flight_tokens=in_flight, model_config=types.SimpleNamespace(max_model_len=max_model_len),
        attention_config=types.SimpleNamespace(hisparse_config=None), speculative_config=None,
        parallel_config=types.SimpleNamespace(decode_context_parallel_size=1), kv_transfer_config=None)


def measure(ratios: list[int], draft: int, indexer: str, max_model_len: int, in_flight: int) -> dict:
    cfg = config(max_model_len, in_flight)
    groups = planning.get_kv_cache_groups(cfg, layer_specs(ratios, draft, indexer))
    if OLD:
        block = planning._pool_bytes_per_block(cfg, groups)
        conc = planning.get_max_concurrency_for_kv_cache_config(
            cfg, KVCacheConfig(num_blocks=10**6, kv_cache_tensors=[], kv_cache_groups=groups))
        return {"group_layers": [len(g.layer_names) for g in groups], "bytes_per_block": block,
                "blocks_per_request": round(10**6 / conc), "needed_bytes": planning._max_memory_usage_bytes_from_groups(cfg, groups)}
    per_request = sum(cdiv(g.kv_cache_spec.max_memory_usage_bytes(cfg), g.kv_cache_spec.page_size_bytes) for g in groups)
    return {"group_layers": [len(g.layer_names) for g in groups], "bytes_per_block": planning._pool_bytes_per_block(cfg, groups),
            "blocks_per_request": per_request}


CASES = {  # name -> compress_ratios of the target layers (the draft layers are added as window-only layers)
    "flash": [0, 0] + [4, 128] * 20 + [4],
    "pro": [128, 128] + [4, 128] * 29 + [4],
    "small-4x8": [0] + [4, 128] * 4,            # synthetic: a short stack whose window group outgrows the MLA group
    "even-10x10": [4, 128] * 10,                 # synthetic: CSA = HCA, the MLA bucket is balanced
}


# DeepSeek-V4.1-Flash on Hopper with vLLM 0.33's defaults (models/deepseek_v41/attention.py, compressor.py): 64-token
# blocks (the V4.1 sparse-MLA and indexer kernels take 64 on SM90), the V4 record (584 B, 576 B alignment) off SM100,
# the fp8 indexer (indexer_kv_dtype defaults to fp8; no sparse-logits stride), compressed KV and indexer keys only on the
# kv sources, a per-request compressor ring (CircularBufferSpec, max(8, pow2 >= drafts + 2) rows x 1,024 fp32) on the
# ratio-2 sources, 32-token window pages on every layer and on the DSpark draft layers.
V41_RATIOS, V41_SOURCES = [0, 0] + [2] * 18 + [1] * 20, (2, 8, 14, 20)


def v41_specs(draft: int, spec_tokens: int, block: int = 64, sm100: str | None = None, indexer: int = 132) -> dict:
    """`sm100`: None (the V4 record, 584 B, 576 B alignment) or the SM100 `--kv-cache-dtype`: "fp8_ds_mla" (the MXFP8
    record, 528 B, 512 B alignment, window block stride lcm(528, compressed)) or "nvfp4_ds_mla" (288 B compressed)."""
    from vllm.v1.kv_cache_interface import CircularBufferSpec

    ring = max(8, 1 << (spec_tokens + 2 - 1).bit_length())
    dtype = sm100 or "fp8_ds_mla"
    swa_rec, align = (528, 512) if sm100 else (584, 576)
    comp = 288 if sm100 == "nvfp4_ds_mla" else swa_rec
    stride = math.lcm(swa_rec, comp) if sm100 else None
    out: dict = {}
    for i, r in enumerate(V41_RATIOS + [0] * draft):
        pre = f"model.layers.{i}.attn"
        out[pre + ".swa_cache"] = SlidingWindowMLASpec(
            block_size=32, num_kv_heads=1, max_tp_shards=1, head_size=512, dtype=torch.uint8, sliding_window=128,
            cache_dtype_str=dtype, state_content_bytes=swa_rec, alignment=align, model_version="deepseek_v4",
            block_stride_alignment=stride, is_draft=i >= len(V41_RATIOS))
        if i in V41_SOURCES:
            out[pre] = MLAAttentionSpec(
                block_size=block, num_kv_heads=1, max_tp_shards=1, head_size=512, dtype=torch.uint8, tokens_per_state=r,
                cache_dtype_str=dtype, alignment=align, model_version="deepseek_v4", state_content_bytes=comp)
            out[pre + ".indexer.k_cache"] = MLAAttentionSpec(
                block_size=block, num_kv_heads=1, max_tp_shards=1, head_size=indexer, dtype=torch.uint8, tokens_per_state=r,
                alignment=align)
            if r > 1:
                out[pre + ".compressor.state_cache"] = CircularBufferSpec(
                    block_size=ring, num_kv_heads=1, head_size=1024, head_size_v=0, dtype=torch.float32)
    return out


def v41_rows() -> list[dict]:
    rows = []
    variants = (("v4.1-flash-sm90", 64, None, 132), ("v4.1-flash-block128", 128, None, 132),  # 128: the kernels' block off SM90
                ("v4.1-flash-sm100", 128, "fp8_ds_mla", 132), ("v4.1-flash-sm100-mxfp4", 128, "fp8_ds_mla", 68),
                ("v4.1-flash-sm100-nvfp4", 128, "nvfp4_ds_mla", 68))
    for case, block, sm100, indexer in variants:
        for draft, spec_tokens in ((0, 0), (3, 5), (3, 7)):
            for max_model_len, in_flight in ((1_048_576, 8192), (131_072, 16_384)):
                rows.append(_v41_row(case, block, sm100, indexer, draft, spec_tokens, max_model_len, in_flight))
    return rows


def _v41_row(case: str, block: int, sm100: str | None, indexer: int, draft: int, spec_tokens: int, max_model_len: int,
             in_flight: int) -> dict:
    cfg = config(max_model_len, in_flight)
    groups = planning.get_kv_cache_groups(cfg, v41_specs(draft, spec_tokens, block, sm100, indexer))
    per_request = sum(cdiv(g.kv_cache_spec.max_memory_usage_bytes(cfg), g.kv_cache_spec.page_size_bytes) for g in groups)
    return {"case": case, "block": block, "kv_cache_dtype": sm100 or "fp8_ds_mla (V4 record)", "indexer_bytes": indexer,
            "draft_layers": draft, "num_speculative_tokens": spec_tokens,
            "max_model_len": max_model_len, "in_flight": in_flight, "group_layers": [len(g.layer_names) for g in groups],
            "bytes_per_block": planning._pool_bytes_per_block(cfg, groups), "blocks_per_request": per_request}


def main() -> None:
    rows = []
    for name, ratios in CASES.items():
        for draft in (0, 1, 3, 12):
            for indexer in ("fp8", "mxfp4"):
                for max_model_len, in_flight in ((1_048_576, 8192), (131_072, 16_384), (4096, 2048)):
                    rows.append({"case": name, "draft_layers": draft, "indexer": indexer,
                                 "max_model_len": max_model_len, "in_flight": in_flight,
                                 **measure(ratios, draft, indexer, max_model_len, in_flight)})
    json.dump({"source": f"vllm {vllm.__version__} wheel, v1/core/{planning.__name__.rsplit('.', 1)[1]}.py run by tools/vllm_kv_groups.py "
                         "(synthetic layer specs built with vLLM's own spec classes; the figures are the engine's)",
               "cases": CASES, "rows": rows, **({} if OLD else {"v41": v41_rows()})}, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")  # one line: a generated record, read by the test


if __name__ == "__main__":
    main()
