"""A bounded GGUF header reader: metadata and tensor infos, never tensor data.

Why not `gguf.GGUFReader`: it builds numpy views over every array and string it meets,
so a hostile header ("tensor count 2**40", "string length 2**40") makes it allocate or
spin. This reader memory-maps the file (no copy) and checks every count and length
against the bytes that are left before it reads, keeps only short values, and only
records the length of long ones (the tokenizer's 129k-entry arrays, the chat template).
Type numbers and block sizes come from the `gguf` library's constants.

Layout (GGUF v2/v3, little-endian): b"GGUF", u32 version, u64 tensor_count, u64 kv_count,
kv_count × (string key, u32 type, value), tensor_count × (string name, u32 n_dims,
n_dims × u64 dim, u32 ggml type, u64 offset), padding to `general.alignment`, tensor data.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"GGUF"
MAX_KV = 1 << 16  # real files have a few dozen keys
MAX_TENSORS = 1 << 16  # DeepSeek V4 Pro has a few thousand
MAX_HEADER_BYTES = 32 << 20  # the largest real headers (256k-token vocabularies) are ~6 MB
MAX_ITEMS = 1 << 20  # keys, tensors and array items walked one by one, in total
NESTED_ARRAY_COST = 16  # an array inside an array costs ~16 string items' time (no real model has one)
MAX_KEY_BYTES = 1 << 16
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ARRAY_DEPTH = 2
KEEP_STRING_BYTES = 4096  # longer strings are recorded as {"string_bytes": n}
KEEP_ARRAY_ITEMS = 64  # longer arrays are recorded as {"array": type, "len": n}
DEFAULT_ALIGNMENT = 32  # gguf.GGUF_DEFAULT_ALIGNMENT

# GGUFValueType number -> (struct format, byte size); 8 = string, 9 = array.
_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
            6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")


class GGUFError(ValueError):
    """The file is not a GGUF, or its header is malformed or hostile; the message says where."""


@dataclass
class TensorInfo:
    """One tensor as the header declares it. Sample: blk.0.ffn_up_exps.weight, (4096, 2048, 256), Q4_K, offset 0."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass
class Header:
    path: str
    file_size: int
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    data_offset: int = 0  # where tensor data starts (aligned)


def read_header(path: str | os.PathLike) -> Header:
    """Read a GGUF file's header; raises GGUFError (bad file) or OSError (cannot read it)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 24:
            raise GGUFError(f"not a GGUF file: {size} bytes is too short for a GGUF header")
        # Only the first MAX_HEADER_BYTES are mapped: a sparse file has any size for free,
        # so the file's size alone does not bound the work.
        with mmap.mmap(fh.fileno(), min(size, MAX_HEADER_BYTES), access=mmap.ACCESS_READ) as buf:
            return _Parser(buf, size, str(path)).header()


class _Parser:
    """Every count is checked against the mapped bytes left and a total item budget."""

    def __init__(self, buf: Any, file_size: int, path: str):
        self.buf, self.file_size, self.path, self.pos = buf, file_size, path, 0
        self.size = min(file_size, MAX_HEADER_BYTES)  # the bytes a header may span
        self.items = MAX_ITEMS

    def _spend(self, n: int, what: str) -> None:
        self.items -= n
        if self.items < 0:
            raise GGUFError(f"header declares more than {MAX_ITEMS} keys, tensors and array items in total ({what} at byte {self.pos}); not a real model")

    # ------------------------------------------------------------------ primitives
    def _need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            if self.pos + n <= self.file_size:
                raise GGUFError(f"header runs past {MAX_HEADER_BYTES >> 20} MiB at byte {self.pos} ({what}); no real model's header is that large")
            raise GGUFError(f"header truncated or corrupt at byte {self.pos}: {what} needs {n} bytes, {self.size - self.pos} left")

    def _scalar(self, vtype: int) -> Any:
        fmt, width = _SCALARS[vtype]
        self._need(width, "a value")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += width
        return value

    def _string(self, limit: int, what: str) -> str | dict:
        length = self._scalar(10)
        if length > limit:
            raise GGUFError(f"{what} declares a length of {length} bytes (limit {limit}) at byte {self.pos - 8}")
        self._need(length, what)
        start, self.pos = self.pos, self.pos + length
        if length > KEEP_STRING_BYTES:
            return {"string_bytes": length}
        return bytes(self.buf[start : self.pos]).decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ structure
    def header(self) -> Header:
        if self.buf[:4] != MAGIC:
            raise GGUFError(f"not a GGUF file: starts with {bytes(self.buf[:4])!r}, not b'GGUF'")
        self.pos = 4
        version = self._scalar(4)
        if version not in (2, 3):
            raise GGUFError(f"GGUF version {version} is not supported (2 or 3)")
        n_tensors, n_kv = self._scalar(10), self._scalar(10)
        self._bound(n_kv, MAX_KV, 14, "key/value count")
        self._bound(n_tensors, MAX_TENSORS, 33, "tensor count")
        self._spend(n_kv + n_tensors, "keys and tensors")
        head = Header(self.path, self.file_size, version)
        for _ in range(n_kv):
            key = self._string(MAX_KEY_BYTES, "a metadata key")
            head.metadata[str(key)] = self._value(self._scalar(4), 0)
        head.tensors = [self._tensor() for _ in range(n_tensors)]
        head.data_offset = _align(self.pos, _alignment(head.metadata))
        return head

    def _bound(self, count: int, hard: int, min_bytes: int, what: str) -> None:
        """Reject a count that cannot fit in the file (each entry takes at least min_bytes)."""
        if count > hard or count * min_bytes > self.size - self.pos:
            raise GGUFError(f"{what} {count} is impossible for a {self.file_size}-byte file (limit {hard}, header at most {MAX_HEADER_BYTES >> 20} MiB)")

    def _value(self, vtype: int, depth: int) -> Any:
        if vtype in _SCALARS:
            return self._scalar(vtype)
        if vtype == _STRING:
            return self._string(self.size, "a string value")
        if vtype == _ARRAY:
            return self._array(depth)
        raise GGUFError(f"unknown GGUF value type {vtype} at byte {self.pos - 4}")

    def _array(self, depth: int) -> Any:
        if depth >= MAX_ARRAY_DEPTH:
            raise GGUFError(f"arrays nested deeper than {MAX_ARRAY_DEPTH} at byte {self.pos}")
        item_type, count = self._scalar(4), self._scalar(10)
        width = _SCALARS[item_type][1] if item_type in _SCALARS else 8 if item_type in (_STRING, _ARRAY) else 0
        if width == 0:
            raise GGUFError(f"unknown GGUF array item type {item_type} at byte {self.pos - 12}")
        self._bound(count, self.size, width, "array length")
        if item_type in _SCALARS and count > KEEP_ARRAY_ITEMS:
            self.pos += count * width  # fixed-width items: skip without reading
            return {"array": item_type, "len": count}
        self._spend(count * (NESTED_ARRAY_COST if item_type == _ARRAY else 1), "array items")
        if count <= KEEP_ARRAY_ITEMS:
            return [self._value(item_type, depth + 1) for _ in range(count)]
        if item_type == _STRING:
            self._skip_strings(count)
        else:
            for _ in range(count):  # nested arrays: walk their lengths, keep nothing
                self._value(item_type, depth + 1)
        return {"array": item_type, "len": count}

    def _skip_strings(self, count: int) -> None:
        """Step over `count` strings (the 129k-token vocabulary) reading only their lengths."""
        unpack, buf, size, pos = _U64.unpack_from, self.buf, self.size, self.pos
        for _ in range(count):
            if pos + 8 > size:
                break
            pos += 8 + unpack(buf, pos)[0]
            if pos > size:
                break
        else:
            self.pos = pos
            return
        self.pos = min(pos, size)
        raise GGUFError(f"header truncated or corrupt at byte {self.pos}: a string array runs past the end of the file")

    def _tensor(self) -> TensorInfo:
        name = self._string(MAX_KEY_BYTES, "a tensor name")
        n_dims = self._scalar(4)
        if not 1 <= n_dims <= MAX_DIMS:
            raise GGUFError(f"tensor {name!r} has {n_dims} dimensions (1..{MAX_DIMS})")
        shape = tuple(self._scalar(10) for _ in range(n_dims))
        if any(d > 1 << 40 for d in shape):
            raise GGUFError(f"tensor {name!r} has an impossible shape {shape}")
        return TensorInfo(str(name), shape, self._scalar(4), self._scalar(10))


def _alignment(metadata: dict[str, Any]) -> int:
    value = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(value, int) or value <= 0 or value & (value - 1) or value > 1 << 20:
        raise GGUFError(f"general.alignment {value!r} is not a power of two")
    return value


def _align(offset: int, alignment: int) -> int:
    return (offset + alignment - 1) // alignment * alignment
