"""Hostile GGUF headers (synthetic, written byte by byte after the layout in gguf-py's
gguf/gguf_writer.py, https://github.com/ggml-org/llama.cpp/tree/master/gguf-py): sparse
files whose size costs nothing, huge declared counts, deep arrays, many tensors.
Shared by tests/test_gguf_hostile.py and bench/gguf_hostile.py."""

from __future__ import annotations

import struct
from pathlib import Path

U32, U64, STRING, ARRAY = 4, 10, 8, 9


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _head(n_tensors: int, n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv)


def _sparse(path: Path, head: bytes, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)  # a hole: any size for free
    return path


def sparse_string_array(path: Path, size: int = 8 << 30) -> Path:
    """A 2**30-string array over zeros: every string has length 0 (the '95-byte header' of #16)."""
    return _sparse(path, _head(0, 1) + _s("tokenizer.ggml.tokens") + struct.pack("<IIQ", ARRAY, STRING, 1 << 30), size)


def sparse_nested_arrays(path: Path, size: int = 4 << 30, count: int = 1 << 28) -> Path:
    """`count` arrays in an array, each inner one empty (zeros)."""
    return _sparse(path, _head(0, 1) + _s("a") + struct.pack("<IIQ", ARRAY, ARRAY, count), size)


def sparse_empty_strings(path: Path, count: int) -> Path:
    """`count` empty strings over zeros, within the mapped header bytes."""
    return _sparse(path, _head(0, 1) + _s("t") + struct.pack("<IIQ", ARRAY, STRING, count), 8 << 30)


def many_tensors(path: Path, count: int) -> Path:
    """`count` real, well-formed 1-D F32 tensor infos."""
    body = b"".join(_s(f"t{i}") + struct.pack("<IQIQ", 1, 32, 0, i * 128) for i in range(count))
    path.write_bytes(_head(count, 0) + body + b"\0" * 64)
    return path


def huge_string(path: Path) -> Path:
    """A key whose string value declares 2**40 bytes, in a sparse file of 2**41."""
    return _sparse(path, _head(0, 1) + _s("general.name") + struct.pack("<IQ", STRING, 1 << 40), 1 << 41)


def many_keys(path: Path, count: int) -> Path:
    """`count` u32 keys, real bytes."""
    body = b"".join(_s(f"k{i}") + struct.pack("<II", U32, i) for i in range(count))
    path.write_bytes(_head(0, count) + body)
    return path


HOSTILE = {
    "sparse-8GiB-string-array": sparse_string_array,
    "sparse-2^28-nested-arrays": sparse_nested_arrays,
    "2^40-byte-string": huge_string,
    "2^17-keys": lambda p: many_keys(p, 1 << 17),
    "2^17-tensors": lambda p: many_tensors(p, 1 << 17),
    "4M-empty-strings-in-32MiB": lambda p: sparse_empty_strings(p, 4 << 20),
    "2.7M-nested-arrays-in-32MiB": lambda p: sparse_nested_arrays(p, 8 << 30, (32 << 20) // 12 - 8),
}
# Within every bound: the most work a header may cost.
LARGEST_ACCEPTED = {
    "2^20-1-empty-strings": lambda p: sparse_empty_strings(p, (1 << 20) - 1),
    "2^16-1-nested-arrays": lambda p: sparse_nested_arrays(p, 8 << 30, (1 << 16) - 1),
    "2^16-tensors": lambda p: many_tensors(p, 1 << 16),
    "2^16-keys": lambda p: many_keys(p, 1 << 16),
}
