"""The llama.cpp offload plan (pure arithmetic), streamed sha256, and Ollama blob digests."""

from __future__ import annotations

import hashlib
import math

from conftest import run_cli
from test_gguf_files import install_ollama_model, make_gguf

from v4doctor.weights.offload import GIB, GPU_RESERVE, RAM_HEADROOM, plan

UD_Q4 = 155_095_240_320  # unsloth UD-Q4_K_XL, 5 shards (v4-facts §2.2)


def _record(total, layers=43, expert_share=0.94):
    per = int(total * expert_share) // layers
    return {"tensor_bytes": total, "layer_expert_bytes": [per] * layers, "block_count": layers}


def test_all_on_gpu_when_it_fits():
    p = plan(_record(100 * GIB), [141 * GIB], 64 * GIB)
    assert p["where"] == "gpu" and p["flags"] == ["--n-gpu-layers", "999"]


def test_expert_offload_on_one_a100():
    rec = _record(UD_Q4)
    p = plan(rec, [80 * GIB], 128 * 10**9)
    excess = UD_Q4 - (80 * GIB - GPU_RESERVE)
    assert p["where"] == "offload" and p["n_cpu_moe"] == math.ceil(excess / rec["layer_expert_bytes"][0]) == 22
    assert p["flags"] == ["--n-gpu-layers", "999", "--n-cpu-moe", str(p["n_cpu_moe"])]
    assert p["gpu_bytes"] <= 80 * GIB - GPU_RESERVE and p["cpu_bytes"] <= 128 * 10**9 - RAM_HEADROOM
    assert p["gpu_bytes"] + p["cpu_bytes"] == UD_Q4


def test_does_not_fit_two_4090s_and_64_gb():
    p = plan(_record(UD_Q4), [24 * GIB, 24 * GIB], 64 * 10**9)
    assert p["where"] == "none"
    assert p["short_by"] == UD_Q4 - 2 * (24 * GIB - GPU_RESERVE) - (64 * 10**9 - RAM_HEADROOM)


def test_cpu_only():
    assert plan(_record(30 * GIB), [], 64 * GIB)["flags"] == ["--n-gpu-layers", "0"]
    assert plan(_record(90 * GIB), [], 64 * GIB)["where"] == "none"


def test_whole_layers_when_non_expert_part_is_too_big():
    """Experts are 10% of the bytes: moving experts cannot free enough VRAM, so fewer layers go on the GPU."""
    rec = _record(100 * GIB, layers=10, expert_share=0.1)
    p = plan(rec, [20 * GIB], 200 * GIB)
    assert p["where"] == "offload" and p["n_gpu_layers"] == (16 * GIB) // (10 * GIB)
    assert p["flags"] == ["--n-gpu-layers", str(p["n_gpu_layers"])]


def test_sha256_streams_with_progress(tmp_path):
    from v4doctor.weights.hashing import sha256_file

    p = tmp_path / "blob"
    p.write_bytes(b"x" * (9 << 20))  # more than one 8 MiB chunk
    seen = []
    assert sha256_file(p, lambda path, done, total: seen.append((done, total))) == hashlib.sha256(p.read_bytes()).hexdigest()
    assert seen[-1] == (9 << 20, 9 << 20) and len(seen) == 2


def _ollama(tmp_path, monkeypatch, digest_of):
    (src,) = make_gguf(tmp_path / "x.gguf", layers=43)
    install_ollama_model(tmp_path, monkeypatch, src, "sha256:" + digest_of(src.read_bytes()), "registry.ollama.ai/library/dsv4/q4")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    data = run_cli("gguf", "dsv4:q4", "--hash", "--no-host", "--engine", "ollama", "--json").json()
    return [f for f in data["findings"] if f["id"] == "V4D411"]


def test_ollama_blob_digest_verified(tmp_path, monkeypatch):
    (f,) = _ollama(tmp_path, monkeypatch, lambda b: hashlib.sha256(b).hexdigest())
    assert f["severity"] == "info" and "matches Ollama's digest" in f["title"]


def test_ollama_blob_digest_mismatch_is_an_error(tmp_path, monkeypatch):
    (f,) = _ollama(tmp_path, monkeypatch, lambda b: "0" * 64)
    assert f["severity"] == "error" and "sha256 is not sha256:000" in f["detail"]
