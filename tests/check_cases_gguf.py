"""Hit and no-hit cases for the GGUF checks V4D401-V4D412 (collected by tests/check_cases.py).

Records come from real GGUF files written with gguf.GGUFWriter into a temporary folder and
read by v4doctor's header reader. Where a case needs a real-world size (155 GB) or a hub
answer, the builder edits the record's numbers and the reason says so.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
from pathlib import Path

from check_cases import host
from test_gguf_files import make_gguf

_DIR = Path(tempfile.mkdtemp(prefix="v4doctor-gguf-cases-"))
_LOADED: dict[str, list[dict]] = {}
GB = 10**9


def records(key: str, filename: str, **make) -> list[dict]:
    """GGUF records for a file written once per test session (fresh copies each call)."""
    if key not in _LOADED:
        from v4doctor.weights.load import load

        folder = _DIR / key
        files = make_gguf(folder / filename, **make)
        _LOADED[key] = load(str(files[0]))
    return copy.deepcopy(_LOADED[key])


def loaded(key: str, setup) -> list[dict]:
    """Records of a folder prepared by `setup(folder)` (truncations, swapped shards)."""
    if key not in _LOADED:
        from v4doctor.weights.load import load

        folder = _DIR / key
        folder.mkdir(parents=True)
        _LOADED[key] = load(str(setup(folder)))
    return copy.deepcopy(_LOADED[key])


def on(host_name: str, recs, engine: str = "llamacpp", version: str | None = None, edit=None, no_binaries=False):
    def build():
        facts = host(host_name, model="flash", engine=engine, engine_version=version)
        if no_binaries:
            facts.binaries = {}
        r = recs() if callable(recs) else recs
        if edit:
            for rec in r:
                edit(rec)
        facts.gguf = r
        facts.target = dataclasses.replace(facts.target, model=r[0]["path"])
        return facts

    return build


def good():
    return records("good", "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", layers=43)


# --------------------------------------------------------------------------- setups
def _truncated(folder: Path) -> Path:
    (p,) = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf")
    with open(p, "r+b") as fh:
        fh.truncate(p.stat().st_size - 1000)
    return p


def _missing_shard(folder: Path) -> Path:
    shards = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)
    shards[2].unlink()
    return shards[0]


def _no_first_shard(folder: Path) -> Path:
    shards = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)
    shards[0].unlink()
    return shards[1]


def _swapped_shard(folder: Path) -> Path:
    """Shard 2 replaced by shard 2 of another conversion (4 layers instead of 3): tensor counts no longer add up."""
    shards = make_gguf(folder / "a" / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)
    other = make_gguf(folder / "b" / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3, layers=5)
    shutil.copy(other[1], shards[1])
    return shards[0]


def _corrupt_shard(folder: Path) -> Path:
    shards = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)
    data = bytearray(shards[1].read_bytes())
    data[8:16] = (5_000_000_000).to_bytes(8, "little")  # tensor count in the billions
    shards[1].write_bytes(bytes(data))
    return shards[0]


def _two_quants(folder: Path) -> Path:
    a = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)
    b = make_gguf(folder / "DeepSeek-V4-Flash-UD-Q8_K_XL.gguf", split_max_tensors=3)
    a[1].unlink()
    b[0].unlink(), b[2].unlink()
    return folder


def _sidecar(folder: Path) -> Path:
    make_gguf(folder / "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", layers=43)
    make_gguf(folder / "DeepSeek-V4-Flash-DSpark-BF16.gguf", layers=1, expert_type="F32")
    return folder


def _size(total: int, layers: int = 43, expert_share: float = 0.94):
    """Give a tiny real record the byte counts of a real download (synthetic numbers)."""
    def edit(rec):
        experts = int(total * expert_share)
        rec["tensor_bytes"] = rec["total_bytes"] = total
        rec["layer_expert_bytes"] = [experts // layers] * layers
        rec["non_expert_bytes"] = total - experts
    return edit


def _prov(prov):
    def edit(rec):
        rec["provenance"] = prov
    return edit


def _drop(*keys):
    def edit(rec):
        for k in keys:
            rec[k] = False
    return edit


PAIR = {"local": "/m/DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", "size": 100, "sha256": None}
UNSLOTH = "unsloth/DeepSeek-V4-Flash-GGUF"

CASES = [
    # V4D401 architecture
    ("V4D401", on("1xa100-80g", lambda: records("ds2", "DeepSeek-V4-Flash-Q4_K_M.gguf", arch="deepseek2")), "error", "a V4 file labelled deepseek2 (pre-merge conversion)"),
    ("V4D401", on("1xa100-80g", lambda: records("ds41", "DeepSeek-V4.1-Flash-Q4_K_M.gguf", arch="deepseek41", name="DeepSeek-V4.1-Flash")), "error", "V4.1 is another architecture"),
    ("V4D401", on("1xa100-80g", lambda: records("llama", "Llama-3-8B-Q4_K_M.gguf", arch="llama", name="Llama 3")), "error", "not DeepSeek at all"),
    ("V4D401", on("1xa100-80g", good), "ok", "deepseek4 is the V4 architecture"),
    ("V4D401", on("1xa100-80g", lambda: loaded("noshard1", _no_first_shard)), "ok", "shard 1 (the metadata) is missing: V4D403's finding, not a wrong architecture"),
    # V4D402 llama.cpp build
    ("V4D402", on("1xa100-80g", good, version="b9000"), "error", "b9000 predates deepseek4 (b9840)"),
    ("V4D402", on("1xa100-80g", good, no_binaries=True), "warning", "no llama-server on PATH: no build was read"),
    ("V4D402", on("1xa100-80g", lambda: loaded("sidecar", _sidecar), version="b9900"), "info", "a DSpark sidecar needs commit 596a579"),
    ("V4D402", on("1xa100-80g", good, version="b9840"), "ok", "b9840 is the first build with deepseek4"),
    ("V4D402", on("1xa100-80g", good, engine="ollama"), "ok", "Ollama's bundled llama.cpp is not a build number v4doctor can read"),
    # V4D403 split set
    ("V4D403", on("1xa100-80g", lambda: loaded("missing", _missing_shard)), "error", "shard 3 of 3 is missing"),
    ("V4D403", on("1xa100-80g", lambda: loaded("swapped", _swapped_shard)), "error", "a shard from another conversion: tensor counts do not add up"),
    ("V4D403", on("1xa100-80g", lambda: records("split", "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)), "ok", "all 3 shards present"),
    # V4D404 truncated / corrupt
    ("V4D404", on("1xa100-80g", lambda: loaded("truncated", _truncated)), "error", "1000 bytes cut off the end"),
    ("V4D404", on("1xa100-80g", lambda: loaded("corrupt", _corrupt_shard)), "error", "a shard's header declares 5 billion tensors"),
    ("V4D404", on("1xa100-80g", good), "ok", "file size covers the declared tensor data"),
    # V4D405 mixed quants
    ("V4D405", on("1xa100-80g", lambda: loaded("twoquants", _two_quants)), "error", "Q4 shards and a Q8 shard side by side"),
    ("V4D405", on("1xa100-80g", lambda: records("split", "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", split_max_tensors=3)), "ok", "one quant"),
    # V4D406 known-problem sources
    ("V4D406", on("1xa100-80g", lambda: records("blob", "DeepSeek-V4-Flash-Q4_K_M-XL.gguf")), "error", "teamblobfish quant names end in -XL: fork-only"),
    ("V4D406", on("1xa100-80g", lambda: records("ds4", "DeepSeek-V4-Flash-IQ2XXS-w2Q2K-AProjQ8-SExpQ8-OutQ8-chat-v2.gguf")), "warning", "antirez's ds4 file name"),
    ("V4D406", on("1xa100-80g", good, edit=lambda r: r.update(repo="lovedheart/DeepSeek-V4-Flash-GGUF")), "error", "--repo names a pre-merge conversion"),
    ("V4D406", on("1xa100-80g", lambda: records("guideq4", "DeepSeek-V4-Flash-Q4_K_M.gguf"), edit=lambda r: r.update(repo=UNSLOTH)), "warning",
     "the guide's Q4_K_M 'from Unsloth': Unsloth has only UD-* quants"),
    ("V4D406", on("1xa100-80g", good), "ok", "Unsloth UD-* quants are mainline"),
    ("V4D406", on("1xa100-80g", lambda: records("plain", "my-flash.gguf", quantized_by=None)), "ok", "an unknown publisher is not a known problem"),
    # V4D407 name vs metadata
    ("V4D407", on("1xa100-80g", lambda: records("q8name", "DeepSeek-V4-Flash-Q8_0.gguf", layers=43)), "warning", "named Q8_0, file_type says Q4_K_M"),
    ("V4D407", on("1xa100-80g", lambda: records("proname", "DeepSeek-V4-Pro-Q4_K_M.gguf", name="DeepSeek-V4-Pro", layers=43)), "warning", "named Pro with Flash's 43 layers"),
    ("V4D407", on("1xa100-80g", good), "ok", "UD-Q4_K_XL is 4-bit like Q4_K_M; 43 layers is Flash"),
    # V4D408 low-bit
    ("V4D408", on("1xa100-80g", lambda: records("iq2", "DeepSeek-V4-Flash-UD-IQ2_XXS.gguf", layers=43, file_type=19)), "warning", "2-bit"),
    ("V4D408", on("1xa100-80g", good), "ok", "4-bit"),
    ("V4D408", on("1xa100-80g", lambda: loaded("sidecar", _sidecar), version="b9900"), "ok", "the BF16 sidecar and the Q4 main model"),
    # V4D409 GGUF given to vLLM
    ("V4D409", on("1xa100-80g", good, engine="vllm"), "error", "vLLM cannot serve V4 GGUFs"),
    ("V4D409", on("1xa100-80g", good, engine="sglang"), "error", "nor SGLang"),
    ("V4D409", on("1xa100-80g", good), "ok", "llama.cpp serves GGUFs"),
    # V4D410 offload plan (sizes edited to the real UD-Q4_K_XL 155,095,240,320 bytes / IQ2 ~87 GB)
    ("V4D410", on("1xa100-80g", good, edit=_size(155_095_240_320)), "info", "80 GB A100 + 128 GB RAM: experts of some layers go to RAM (--n-cpu-moe)"),
    ("V4D410", on("2xrtx4090", good, edit=_size(155_095_240_320)), "error", "2x24 GB + 64 GB RAM < 155 GB"),
    ("V4D410", on("laptop-nogpu", good, edit=_size(86_720_111_488)), "error", "34 GB RAM, no GPU, 87 GB file"),
    ("V4D410", on("1xa100-80g", good), "info", "the tiny file fits on the GPU: -ngl 999"),
    ("V4D410", on("1xa100-80g", good, engine="vllm", edit=_size(155_095_240_320)), "ok", "no offload plan for vLLM (V4D409 says why)"),
    # V4D411 provenance (hub answers as recorded by v4doctor.weights.provenance)
    ("V4D411", on("1xa100-80g", good, edit=_prov({"match": None, "checked": [{"repo": UNSLOTH, "status": "ok", "pairs": [{**PAIR, "verdict": "differs", "remote": "UD-Q4_K_XL/x.gguf", "remote_size": 200}]}]})), "error", "same name, different size"),
    ("V4D411", on("1xa100-80g", good, edit=_prov({"match": None, "checked": [{"repo": UNSLOTH, "status": "gated", "pairs": []}]})), "warning", "no repo confirmed the file"),
    ("V4D411", on("1xa100-80g", good, edit=_prov({"match": {"repo": UNSLOTH, "revision": "main", "sha": "abc123def456789", "by": "sha256"}, "checked": []})), "info", "sha256 matches the repo"),
    ("V4D411", on("1xa100-80g", good), "ok", "provenance was not asked for (no --hub)"),
    # V4D412 tokenizer / chat template
    ("V4D412", on("1xa100-80g", lambda: records("notpl", "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", layers=43, chat_template=False)), "warning", "no chat template"),
    ("V4D412", on("1xa100-80g", lambda: records("notok", "DeepSeek-V4-Flash-UD-Q4_K_XL.gguf", layers=43, tokens=False)), "error", "no vocabulary"),
    ("V4D412", on("1xa100-80g", good), "ok", "tokenizer and template present"),
]
