"""A DeepSeek V4 checkpoint the knowledge base does not list is fitted from its own config.json and file sizes
(issue #13: "say so instead of refusing"). The folder is synthetic: a real V4-Flash config.json's fields
(fixtures: the values of deepseek-ai/DeepSeek-V4-Flash's config, as the knowledge base records them) and a
sparse weight file of Flash's size, so no 149 GiB is written."""

from __future__ import annotations

import json

from conftest import run_cli

from v4doctor.knowledge.from_config import record_from_config
from v4doctor.knowledge.kb import load

FLASH = load().model("flash")
CONFIG = {
    "architectures": ["DeepseekV4ForCausalLM"], "model_type": "deepseek_v4", "num_hidden_layers": 43, "hidden_size": 4096,
    "n_routed_experts": 256, "moe_intermediate_size": 2048, "num_nextn_predict_layers": 1, "max_position_embeddings": 1048576,
    "compress_ratios": [0, 0] + [4, 128] * 20 + [4, 0],  # 21 CSA, 20 HCA, 2 window-only layers + the MTP entry
}


def test_record_counts_csa_and_hca_layers_from_compress_ratios():
    r = record_from_config(CONFIG, "me/my-v4-finetune", disk_bytes=FLASH["disk_bytes"])
    assert (r["layers"], r["csa_layers"], r["hca_layers"]) == (43, FLASH["csa_layers"], FLASH["hca_layers"])
    assert r["disk_bytes"] == FLASH["disk_bytes"] and r["from_config"]
    assert record_from_config({"architectures": ["LlamaForCausalLM"]}, "x") is None


def test_fit_a_local_folder_from_its_config_and_file_sizes(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    with open(tmp_path / "model-00001-of-00001.safetensors", "wb") as fh:
        fh.truncate(FLASH["disk_bytes"])  # sparse: the size without the bytes
    mine = run_cli("fit", "--model", str(tmp_path), "--gpus", "2xH200", "--json").json()
    known = run_cli("fit", "--model", "flash", "--gpus", "2xH200", "--json").json()
    for key in ("weights_gib_per_gpu", "kv_bytes_per_token", "kv_tokens", "max_concurrency"):
        assert mine[key] == known[key], key


def test_a_folder_without_weights_says_the_size_is_unknown(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    r = run_cli("fit", "--model", str(tmp_path), "--gpus", "2xH200")
    assert r.code == 2 and "no size on disk" in r.err
