"""Real GGUF files written with gguf.GGUFWriter (tiny tensors): the header reader, splits, Ollama, bad input.

`make_gguf` is shared by the other GGUF tests (`from test_gguf_files import make_gguf`).
"""

from __future__ import annotations

import json
import os
import struct
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli

Q4_K_BLOCK = 144  # bytes per 256-element Q4_K block (gguf.GGML_QUANT_SIZES)


def make_gguf(path: Path, *, arch: str = "deepseek4", name: str = "DeepSeek-V4-Flash", layers: int = 3,
              expert_type: str = "Q4_K", file_type: int | None = 15, quantized_by: str | None = "Unsloth",
              chat_template: bool = True, tokens: bool = True, split_max_tensors: int = 0,
              expert_rows: int = 8, extra: dict | None = None) -> list[Path]:
    """Write a tiny DeepSeek-V4-shaped GGUF (expert tensors per layer) and return the file(s) written."""
    from gguf import GGMLQuantizationType, GGUFWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    w = GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    w.add_name(name)
    if quantized_by:
        w.add_string("general.quantized_by", quantized_by)
    if file_type is not None:
        w.add_file_type(file_type)
    w.add_uint32(f"{arch}.block_count", layers)
    w.add_uint32(f"{arch}.context_length", 1048576)
    if tokens:
        w.add_string("tokenizer.ggml.model", "gpt2")
        w.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(100)])
    if chat_template:
        w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}")
    for key, value in (extra or {}).items():
        w.add_string(key, value) if isinstance(value, str) else w.add_uint32(key, value)
    w.add_tensor("token_embd.weight", np.ones((4, 8), dtype=np.float32))
    qtype = GGMLQuantizationType[expert_type]
    for i in range(layers):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones((8,), dtype=np.float32))
        raw = np.zeros((expert_rows, Q4_K_BLOCK), dtype=np.uint8) if expert_type == "Q4_K" else np.ones((expert_rows, 256), dtype=np.float32)
        w.add_tensor(f"blk.{i}.ffn_up_exps.weight", raw, raw_dtype=qtype if expert_type == "Q4_K" else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if split_max_tensors:
        return sorted(path.parent.glob(f"{path.stem}-*-of-*.gguf"))
    return [path]


def install_ollama_model(tmp_path: Path, monkeypatch, gguf: Path, digest: str, manifest_path: str, **manifest) -> Path:
    """Move `gguf` into an Ollama store as blob `digest` named by a manifest at `manifests/<manifest_path>`
    (`**manifest`: more manifest fields); OLLAMA_MODELS points at the store, which is returned."""
    models = tmp_path / "ollama"
    (models / "blobs").mkdir(parents=True)
    gguf.rename(models / "blobs" / digest.replace(":", "-"))
    target = models / "manifests" / manifest_path
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps({**manifest, "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": digest, "size": 1}]}))
    monkeypatch.setenv("OLLAMA_MODELS", str(models))
    return models


# --------------------------------------------------------------------------- header reader
def test_reads_metadata_and_tensor_bytes(tmp_path):
    from v4doctor.weights.load import load

    make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    (rec,) = load(str(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf"))
    assert rec["architecture"] == "deepseek4" and rec["name"] == "DeepSeek-V4-Flash"
    assert rec["quantized_by"] == "Unsloth" and rec["file_type_name"] == "Q4_K_M"
    assert rec["block_count"] == 3 and rec["has_chat_template"] and rec["has_tokenizer"]
    assert rec["tensor_count"] == 7
    assert rec["bytes_by_type"]["Q4_K"] == 3 * 8 * Q4_K_BLOCK
    assert rec["layer_expert_bytes"] == [8 * Q4_K_BLOCK] * 3
    assert rec["name_quant"] == "UD-Q4_K_XL" and rec["quant_bits"] == 4
    (f,) = rec["files"]
    assert not f["truncated"] and f["expected_bytes"] <= f["size"]


def test_truncated_file_is_caught_from_the_header(tmp_path):
    from v4doctor.weights.load import load

    (p,) = make_gguf(tmp_path / "m.gguf")
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size - 100)
    (rec,) = load(str(p))
    assert rec["files"][0]["truncated"] is True


def test_split_set_complete_and_missing_shard(tmp_path):
    from v4doctor.weights.load import load

    shards = make_gguf(tmp_path / "DeepSeek-V4-Flash-Q4_K_M.gguf", split_max_tensors=3)
    assert len(shards) == 3
    (rec,) = load(str(shards[0]))
    assert rec["kind"] == "split" and rec["split_count"] == 3 and rec["missing_splits"] == []
    assert rec["tensor_count"] == rec["split_tensors_count"] == 7
    shards[1].unlink()
    (rec,) = load(str(shards[0]))
    assert rec["missing_splits"] == [2] and rec["expected_split_count"] == 3


def test_directory_with_two_models(tmp_path):
    from v4doctor.weights.load import load

    make_gguf(tmp_path / "a" / "DeepSeek-V4-Flash-Q4_K_M.gguf", split_max_tensors=4)
    make_gguf(tmp_path / "a" / "DeepSeek-V4-Flash-MTP-BF16.gguf", layers=1)
    recs = load(str(tmp_path / "a"))
    assert sorted(r["kind"] for r in recs) == ["file", "split"]
    assert [r["sidecar"] for r in recs if r["kind"] == "file"] == ["mtp"]


def test_ollama_model_name_reads_manifest_and_blob(tmp_path, monkeypatch):
    from v4doctor.weights.load import load

    (gguf_path,) = make_gguf(tmp_path / "x.gguf")
    digest = "sha256:" + "ab" * 32
    install_ollama_model(tmp_path, monkeypatch, gguf_path, digest, "hf.co/unsloth/DeepSeek-V4-Flash-GGUF/UD-Q4_K_XL", schemaVersion=2)
    (rec,) = load("hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL")
    assert rec["kind"] == "ollama" and rec["architecture"] == "deepseek4"
    assert rec["files"][0]["ollama_digest"] == digest


# --------------------------------------------------------------------------- hostile headers
def _hostile(path: Path, body: bytes) -> Path:
    path.write_bytes(b"GGUF" + struct.pack("<I", 3) + body + b"\0" * 64)
    return path


def _rejected_fast(path: Path) -> str:
    from v4doctor.weights.header import GGUFError, read_header

    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(GGUFError) as info:
        read_header(path)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 1 << 20, (elapsed, peak)
    return str(info.value)


def test_tensor_count_in_the_billions_is_rejected_without_allocating(tmp_path):
    msg = _rejected_fast(_hostile(tmp_path / "h.gguf", struct.pack("<QQ", 5_000_000_000, 0)))
    assert "tensor count 5000000000" in msg


def test_string_length_in_the_billions_is_rejected_without_allocating(tmp_path):
    body = struct.pack("<QQ", 0, 1) + struct.pack("<Q", 4) + b"k.ey" + struct.pack("<I", 8) + struct.pack("<Q", 3_000_000_000)
    assert "3000000000" in _rejected_fast(_hostile(tmp_path / "h.gguf", body))


def test_array_length_in_the_billions_is_rejected_without_allocating(tmp_path):
    body = struct.pack("<QQ", 0, 1) + struct.pack("<Q", 4) + b"k.ey" + struct.pack("<IIQ", 9, 4, 2_000_000_000)
    assert "array length" in _rejected_fast(_hostile(tmp_path / "h.gguf", body))


def test_hypothesis_fuzz_header_reader(tmp_path_factory):
    """Random bytes after a valid prefix: the reader returns or raises GGUFError, quickly."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from v4doctor.weights.header import GGUFError, read_header

    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.binary(max_size=600), st.integers(0, 40), st.integers(0, 40))
    def run(body, n_tensors, n_kv):
        p = folder / "f.gguf"
        p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body)
        try:
            read_header(p)
        except GGUFError:
            pass

    run()


def test_fuzz_mutated_real_file(tmp_path):
    """Flip bytes all over a real header: never a crash other than GGUFError."""
    import random

    from v4doctor.weights.header import GGUFError, read_header

    (p,) = make_gguf(tmp_path / "m.gguf")
    data = p.read_bytes()
    rng = random.Random(5)
    for _ in range(300):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(8, min(len(buf), 2000))] = rng.randrange(256)
        p.write_bytes(bytes(buf))
        try:
            read_header(p)
        except GGUFError:
            pass


# --------------------------------------------------------------------------- bad input (exit 2)
def test_directory_without_gguf_is_one_line_exit_2(tmp_path):
    r = run_cli("gguf", str(tmp_path))
    assert r.code == 2 and "no .gguf files" in r.err and r.err.count("\n") == 1


def test_non_gguf_file_is_one_line_exit_2(tmp_path):
    p = tmp_path / "weights.gguf"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    r = run_cli("gguf", str(p))
    assert r.code == 2 and "not a GGUF file" in r.err and r.err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_one_line_exit_2(tmp_path):
    (p,) = make_gguf(tmp_path / "m.gguf")
    p.chmod(0)
    r = run_cli("gguf", str(p))
    assert r.code == 2 and "cannot read" in r.err and r.err.count("\n") == 1


def test_missing_path_is_one_line_exit_2(tmp_path):
    r = run_cli("gguf", str(tmp_path / "nope.gguf"))
    assert r.code == 2 and "no such file" in r.err


def test_unopenable_file_is_one_line_exit_2(tmp_path):
    """A unix socket named .gguf: open() fails with a real OSError even for root."""
    import socket

    path = tmp_path / "sock.gguf"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    try:
        r = run_cli("gguf", str(path))
    finally:
        s.close()
    assert r.code == 2 and "cannot read" in r.err and r.err.count("\n") == 1
