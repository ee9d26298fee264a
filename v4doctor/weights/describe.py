"""Turn GGUF headers into the `Facts.gguf` record of one model (a file or a split set).

The record is plain JSON data (the checks read it, snapshots carry it). Sizes come from
the header: each tensor's bytes are its element count over the type's block size times
the block's bytes (`gguf.GGML_QUANT_SIZES`), so a file shorter than the data its header
declares is caught without reading the data.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from v4doctor.weights.header import Header, TensorInfo

SPLIT_RE = re.compile(r"^(?P<prefix>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
# A quant in a file name: UD-Q4_K_XL, Q4_K_M, IQ2_XXS, MXFP4_MOE, Q8_0, BF16 ...
QUANT_RE = re.compile(r"(?<![A-Za-z0-9])((?:UD-)?(?:I?Q\d_(?:K(?:_[A-Z]{1,3})?|[A-Z]{1,3}|\d)|TQ\d_0|MXFP4(?:_MOE)?|NVFP4|BF16|F16|F32))(?![A-Za-z0-9])", re.IGNORECASE)
SIDECAR_RE = re.compile(r"(?:^|[-_.])(mtp|dspark)(?:[-_.]|$)", re.IGNORECASE)
_EXPERT_TENSOR = re.compile(r"^blk\.(\d+)\..*_exps\b")

# metadata key -> record field
_KEYS = {
    "general.architecture": "architecture", "general.name": "name", "general.basename": "basename",
    "general.finetune": "finetune", "general.size_label": "size_label", "general.quantized_by": "quantized_by",
    "general.file_type": "file_type", "general.quantization_version": "quantization_version",
    "general.url": "url", "general.repo_url": "repo_url", "general.source.url": "source_url",
    "general.source.repo_url": "source_repo_url", "general.source.huggingface.repository": "source_hf_repo",
    "tokenizer.ggml.model": "tokenizer_model",
}


def quant_bits(quant: str | None) -> int | None:
    """Bits per weight named by a quant: UD-IQ2_M -> 2, MXFP4_MOE -> 4, BF16 -> 16."""
    if not quant:
        return None
    q = quant.upper().removeprefix("UD-")
    if q.startswith(("MXFP4", "NVFP4")):
        return 4
    m = re.match(r"^(?:I?Q|TQ|BF|F)(\d+)", q)
    return int(m.group(1)) if m else None


def name_quant(filename: str) -> str | None:
    """The quant a file name claims: DeepSeek-V4-Flash-UD-Q4_K_XL-00001-of-00005.gguf -> UD-Q4_K_XL."""
    found = QUANT_RE.findall(Path(filename).name)
    return found[-1].upper() if found else None


def file_type_name(value: Any) -> str | None:
    """general.file_type 15 -> "Q4_K_M" (llama.cpp's LlamaFileType, from the gguf library)."""
    from gguf import LlamaFileType

    try:
        return LlamaFileType(value).name.removeprefix("MOSTLY_")
    except (ValueError, TypeError):
        return None


def tensor_bytes(t: TensorInfo) -> int | None:
    """Bytes of one tensor's data, or None when its type is unknown to this gguf library."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType(t.ggml_type)]
    except (ValueError, KeyError):
        return None
    n = 1
    for d in t.shape:
        n *= d
    return None if n % block else n // block * size


def type_name(ggml_type: int) -> str:
    from gguf import GGMLQuantizationType

    try:
        return GGMLQuantizationType(ggml_type).name
    except ValueError:
        return f"type{ggml_type}"


def describe_file(head: Header) -> dict[str, Any]:
    """One file: its size, the bytes its header declares, and whether it is cut short."""
    ends = [(t.offset, tensor_bytes(t)) for t in head.tensors]
    known_ends = [o + n for o, n in ends if n is not None]
    expected = head.data_offset + max(known_ends, default=0)
    exact = all(n is not None for _, n in ends)
    split = head.metadata.get("split.no")
    return {
        "path": head.path,
        "size": head.file_size,
        "split_no": split if isinstance(split, int) else None,
        "split_count": _int(head.metadata.get("split.count")),
        "tensor_count": len(head.tensors),
        "expected_bytes": expected,
        "expected_exact": exact,
        "truncated": head.file_size < expected,
        "architecture": _str(head.metadata.get("general.architecture")),
        "file_type": _int(head.metadata.get("general.file_type")),
        "name_quant": name_quant(head.path),
        "main_type": _main_type(head.tensors),
    }


def _main_type(tensors: list[TensorInfo]) -> str | None:
    """The ggml type holding most of a file's bytes (a Q4 shard vs a Q8 shard)."""
    by_type: Counter[str] = Counter()
    for t in tensors:
        by_type[type_name(t.ggml_type)] += tensor_bytes(t) or 0
    return by_type.most_common(1)[0][0] if by_type else None


def describe_model(heads: list[Header], kind: str, given: str) -> dict[str, Any]:
    """One model from its files' headers (split shards in order; metadata from the first)."""
    first = heads[0].metadata
    record: dict[str, Any] = {"input": given, "kind": kind, "path": heads[0].path}
    record.update({field: _plain(first.get(key)) for key, field in _KEYS.items()})
    record["file_type_name"] = file_type_name(record["file_type"])
    record["files"] = [describe_file(h) for h in heads]
    record.update(_tokenizer(first))
    record.update(_arch_keys(first, record["architecture"]))
    record.update(_tensors(heads))
    record["total_bytes"] = sum(h.file_size for h in heads)
    record["name_quant"] = name_quant(heads[0].path)
    record["quant_bits"] = quant_bits(record["name_quant"] or record["file_type_name"])
    sidecar = SIDECAR_RE.search(Path(heads[0].path).name)
    record["sidecar"] = sidecar.group(1).lower() if sidecar else None
    record["split_count"] = _int(first.get("split.count")) or (len(heads) if kind == "split" else None)
    record["split_tensors_count"] = _int(first.get("split.tensors.count"))
    return record


def _tokenizer(meta: dict[str, Any]) -> dict[str, Any]:
    template = meta.get("tokenizer.chat_template")
    return {
        "has_tokenizer": "tokenizer.ggml.tokens" in meta,
        "has_chat_template": bool(template),
    }


def _arch_keys(meta: dict[str, Any], arch: Any) -> dict[str, Any]:
    prefix = f"{arch}." if isinstance(arch, str) else "\0"
    return {
        "block_count": _int(meta.get(prefix + "block_count")),
        "context_length": _int(meta.get(prefix + "context_length")),
        "expert_count": _int(meta.get(prefix + "expert_count")),
        "embedding_length": _int(meta.get(prefix + "embedding_length")),
    }


def _tensors(heads: list[Header]) -> dict[str, Any]:
    """Tensor count, bytes per ggml type, and expert bytes per layer (for the offload plan)."""
    by_type: Counter[str] = Counter()
    experts: Counter[int] = Counter()
    other = unknown = 0
    for t in (t for h in heads for t in h.tensors):
        n = tensor_bytes(t)
        if n is None:
            unknown += 1
            continue
        by_type[type_name(t.ggml_type)] += n
        m = _EXPERT_TENSOR.match(t.name)
        if m:
            experts[int(m.group(1))] += n
        else:
            other += n
    layers = max(experts, default=-1) + 1
    return {
        "tensor_count": sum(len(h.tensors) for h in heads),
        "bytes_by_type": dict(by_type.most_common()),
        "tensor_bytes": sum(by_type.values()),
        "unknown_type_tensors": unknown,
        "layer_expert_bytes": [experts.get(i, 0) for i in range(layers)],
        "non_expert_bytes": other,
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _plain(value: Any) -> Any:
    """Keep scalars and short strings; a long value becomes a marker, never the whole thing."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return None
