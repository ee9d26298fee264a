"""`v4doctor gguf` and `v4doctor run` on GGUF targets, in-process, with real GGUFWriter files."""

from __future__ import annotations

import struct
import time

from conftest import run_cli
from test_gguf_files import install_ollama_model, make_gguf


def _ids(data, severity=None):
    return {f["id"] for f in data["findings"] if severity is None or f["severity"] == severity}


def test_gguf_good_file_json(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", layers=43)
    r = run_cli("gguf", str(p), "--no-host", "--engine-version", "b9840", "--json")
    data = r.json()
    assert r.code == 0, data["findings"]
    assert data["gguf"][0]["architecture"] == "deepseek4" and data["gguf"][0]["name_quant"] == "UD-Q4_K_XL"
    assert not _ids(data, "error") and not _ids(data, "warning")
    assert {f["category"] for f in data["findings"]} == {"gguf"}


def test_gguf_truncated_exits_1(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size - 10)
    r = run_cli("gguf", str(p), "--no-host", "--json")
    assert r.code == 1 and "V4D404" in _ids(r.json(), "error")


def test_gguf_hostile_header_is_a_finding_quickly(tmp_path):
    p = tmp_path / "evil.gguf"
    p.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 2**62, 0) + b"\0" * 64)
    start = time.perf_counter()
    r = run_cli("gguf", str(p), "--no-host", "--json")
    assert time.perf_counter() - start < 2
    assert r.code == 1
    (f,) = [f for f in r.json()["findings"] if f["id"] == "V4D404"]
    assert "impossible" in f["detail"]


def test_gguf_for_vllm_is_an_error(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    r = run_cli("gguf", str(p), "--no-host", "--engine", "vllm", "--json")
    assert r.code == 1 and "V4D409" in _ids(r.json(), "error")


def test_gguf_hub_offline_is_not_contacted(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens; must not be asked
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    data = run_cli("gguf", str(p), "--hub", "--no-host", "--json").json()
    (f,) = [f for f in data["findings"] if f["id"] == "V4D411"]
    assert f["severity"] == "warning" and "HF_HUB_OFFLINE" in f["detail"]
    assert data["gguf"][0]["provenance"]["checked"] == []


def test_gguf_markdown_output(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-IQ2_XXS.gguf", file_type=19)
    r = run_cli("gguf", str(p), "--no-host", "--format", "markdown")
    assert r.code == 0 and "V4D408" in r.out


def test_run_with_gguf_model_and_vllm(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    r = run_cli("run", "--model", str(p), "--engine", "vllm", "--select", "gguf", "--json")
    assert r.code == 1 and "V4D409" in _ids(r.json(), "error")


def test_run_with_llama_server_cmd_reads_its_gguf(tmp_path):
    (p,) = make_gguf(tmp_path / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", arch="deepseek2")
    r = run_cli("run", "--engine", "llamacpp", "--cmd", f"llama-server -m {p} -ngl 99", "--select", "V4D401", "--json")
    assert "V4D401" in _ids(r.json(), "error")


def test_run_with_ollama_model_name(tmp_path, monkeypatch):
    (src,) = make_gguf(tmp_path / "x.gguf", layers=43)
    install_ollama_model(tmp_path, monkeypatch, src, "sha256:" + "cd" * 32, "registry.ollama.ai/library/deepseek-v4-local/latest")
    data = run_cli("run", "--model", "deepseek-v4-local", "--engine", "ollama", "--select", "gguf", "--json").json()
    (f,) = [f for f in data["findings"] if f["id"] == "V4D401"]
    assert f["severity"] == "ok"


def test_run_non_gguf_target_skips_gguf_checks():
    data = run_cli("run", "--facts", "fixtures/hosts/h200-x1.json", "--select", "V4D401", "--json").json()
    (f,) = data["findings"]
    assert f["severity"] == "skipped" and f["detail"].startswith("gguf unknown, because")


def test_collector_cmd_and_non_gguf(tmp_path):
    from v4doctor.collect.gguf import collect
    from v4doctor.collect.target import build_target
    from v4doctor.facts import Unknown

    assert isinstance(collect(build_target("flash", "vllm")), Unknown)
    assert "no Ollama model" in collect(build_target("nosuchmodel", "ollama")).reason
    (p,) = make_gguf(tmp_path / "m.gguf")
    recs = collect(build_target("flash", "llamacpp", cmd=f"llama-server --model={p}"))
    assert recs[0]["path"] == str(p)
