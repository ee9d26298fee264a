"""Issue #16: the GGUF header reader is bounded in total, not only per field.
Times and peak RSS are measured by bench/gguf_hostile.py, not here."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hostile_gguf  # noqa: E402

from v4doctor.weights import header  # noqa: E402
from v4doctor.weights.header import GGUFError, read_header  # noqa: E402

_WHY = {
    "sparse-8GiB-string-array": "impossible for a 8589934592-byte file",
    "sparse-2^28-nested-arrays": "impossible for a 4294967296-byte file",
    "2^40-byte-string": "declares a length of 1099511627776 bytes",
    "2^17-keys": "key/value count 131072",
    "2^17-tensors": "tensor count 131072",
    "4M-empty-strings-in-32MiB": "header at most 32 MiB",
    "2.7M-nested-arrays-in-32MiB": "more than 1048576 keys, tensors and array items",
}


@pytest.mark.parametrize("name", list(hostile_gguf.HOSTILE))
def test_a_hostile_header_is_rejected_naming_the_limit(tmp_path, name):
    path = hostile_gguf.HOSTILE[name](tmp_path / "x.gguf")
    with pytest.raises(GGUFError, match=_WHY[name].replace("^", r"\^")):
        read_header(path)


@pytest.mark.parametrize("name", ["2^20-1-empty-strings", "2^16-1-nested-arrays", "2^16-keys"])
def test_the_largest_header_within_every_bound_is_read(tmp_path, name):
    head = read_header(hostile_gguf.LARGEST_ACCEPTED[name](tmp_path / "x.gguf"))
    assert head.metadata and head.file_size == (tmp_path / "x.gguf").stat().st_size


def test_a_sparse_file_maps_only_the_header_bytes_and_keeps_its_real_size(tmp_path):
    head = read_header(hostile_gguf.sparse_empty_strings(tmp_path / "x.gguf", 1000))
    assert head.file_size == 8 << 30 and head.metadata["t"] == {"array": 8, "len": 1000}


def test_a_header_past_the_mapped_bytes_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(header, "MAX_HEADER_BYTES", 1 << 20)
    path = hostile_gguf.many_keys(tmp_path / "x.gguf", 60000)  # ~1.1 MB of keys
    with pytest.raises(GGUFError, match="impossible|runs past 1 MiB"):
        read_header(path)


def test_the_item_budget_is_total_across_arrays(tmp_path, monkeypatch):
    monkeypatch.setattr(header, "MAX_ITEMS", 1000)
    import struct

    body = b"".join(hostile_gguf._s(f"a{i}") + struct.pack("<IIQ", 9, 8, 400) + b"\0" * 8 * 400 for i in range(3))
    path = tmp_path / "x.gguf"
    path.write_bytes(hostile_gguf._head(0, 3) + body)
    with pytest.raises(GGUFError, match="more than 1000"):
        read_header(path)  # 3 arrays of 400 items each pass alone, not together
