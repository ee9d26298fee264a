"""Flag knowledge (knowledge/flags/*.json from tools/gen_flags.py) and flag validation per version."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import ROOT, VLLM_033_HELP

from v4doctor.launch import flags as flagdb
from v4doctor.launch import parse_text
from v4doctor.launch.validate import flag_table_version, validate

FLASH = "deepseek-ai/DeepSeek-V4-Flash"


def _gen():
    spec = importlib.util.spec_from_file_location("gen_flags", ROOT / "tools" / "gen_flags.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("path", sorted(flagdb.FLAGS_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_flag_set_records_version_and_how_it_was_made(path):
    data = json.loads(path.read_text())
    assert data["engine"] in ("vllm", "sglang", "llamacpp") and data["version"] and data["source"]
    assert data["generated_by"] == "tools/gen_flags.py" and data["method"]
    assert len(data["flags"]) > 100


def test_committed_engines_cover_current_release_and_v4_floor():
    versions = {e: [t.version for t in flagdb.tables(e)] for e in ("vllm", "sglang", "llamacpp")}
    assert versions["vllm"] == ["0.20.0", "0.33.0"] and "0.5.12" in versions["sglang"] and len(versions["sglang"]) == 2
    assert versions["llamacpp"] == ["78d2f5246", "0c1e57098"]  # ordered by the llama-cpp-python release that vendors them
    floor = json.loads((flagdb.FLAGS_DIR / "llamacpp-78d2f5246.json").read_text())
    assert "LLM_ARCH_DEEPSEEK4" in floor["v4_floor_note"] and floor["version"] == "78d2f5246"


def test_vllm_033_table_regenerates_from_the_help_output(tmp_path, monkeypatch):
    gen = _gen()
    monkeypatch.setattr(gen, "OUT_DIR", tmp_path)
    gen.main(["vllm-help", str(VLLM_033_HELP), "--version", "0.33.0",
              "--source", json.loads((flagdb.FLAGS_DIR / "vllm-0.33.0.json").read_text())["source"]])
    fresh = json.loads((tmp_path / "vllm-0.33.0.json").read_text())
    committed = json.loads((flagdb.FLAGS_DIR / "vllm-0.33.0.json").read_text())
    assert fresh["flags"] == committed["flags"]


def test_help_parser_reads_switches_negations_choices_and_json_fields():
    flags = json.loads((flagdb.FLAGS_DIR / "vllm-0.33.0.json").read_text())["flags"]
    assert flags["enable-expert-parallel"]["names"] == ["--enable-expert-parallel", "-ep"] and not flags["enable-expert-parallel"]["value"]
    # vLLM 0.33's EnableDisableAction: help shows --enable-x/--disable-x; --no-enable-x is still accepted, hidden
    # (vllm/utils/argparse_utils.py EnableDisableAction in the 0.33.0 wheel)
    assert flags["enable-expert-parallel"]["negations"] == ["--disable-expert-parallel", "--no-enable-expert-parallel"]
    hybrid = flags["disable-hybrid-kv-cache-manager"]
    assert hybrid["names"] == ["--disable-hybrid-kv-cache-manager"]
    assert hybrid["negations"] == ["--enable-hybrid-kv-cache-manager", "--no-disable-hybrid-kv-cache-manager"]
    assert flags["dtype"]["strict"] and "bfloat16" in flags["dtype"]["choices"]
    assert "indexer_kv_dtype" in flags["attention-config"]["fields"] and "use_fp4_indexer_cache" not in flags["attention-config"]["fields"]


def test_vllm_020_wheel_table_has_the_old_indexer_bool():
    flags = json.loads((flagdb.FLAGS_DIR / "vllm-0.20.0.json").read_text())["flags"]
    assert "use_fp4_indexer_cache" in flags["attention-config"]["fields"]
    assert "deepseek_v4" in flags["tokenizer-mode"]["choices"]


def test_llama_arg_cpp_reader_on_a_sample():
    src = '''
    add_opt(common_arg(
        {"-c", "--ctx-size"}, "N",
        string_format("size of the prompt context (default: %d, 0 = loaded from model)", params.n_ctx),
        [](common_params & params, int value) {
    add_opt(common_arg(
        {"--jinja"},
        {"--no-jinja"},
        string_format("whether to use jinja template engine for chat (default: %s)", "x"),
        [](common_params & params, bool value) {
    add_opt(common_arg(
        {"-fa", "--flash-attn"}, "[on|off|auto]",
        "set Flash Attention use",
        [](common_params & params, const std::string & value) {
    '''
    flags = _gen().from_llama_arg_cpp(src)
    assert flags["ctx-size"]["value"] and flags["ctx-size"]["names"] == ["-c", "--ctx-size"]
    assert not flags["jinja"]["value"] and flags["jinja"]["negations"] == ["--no-jinja"]
    assert flags["flash-attn"]["choices"] == ["on", "off", "auto"]


# --------------------------------------------------------------------------- validation
def _problems(cmd: str, version: str | None):
    return [(p.kind, p.arg.name) for p in validate(parse_text(cmd), version)]


def test_unknown_flag_gets_did_you_mean():
    [p] = validate(parse_text(f"vllm serve {FLASH} --max-modle-len 4096"), "0.33.0")
    assert p.kind == "unknown" and "did you mean --max-model-len?" in p.message and p.suggestion == "--max-model-len"


def test_value_outside_strict_choices():
    [p] = validate(parse_text(f"vllm serve {FLASH} --dtype bf16"), "0.33.0")
    assert p.kind == "choice" and p.strict and p.value == "bfloat16"


def test_old_fp4_indexer_flag_rejected_by_033_with_its_replacement():
    [p] = validate(parse_text(f"vllm serve {FLASH} --attention_config.use_fp4_indexer_cache=True"), "0.33.0")
    assert p.kind == "removed" and p.suggestion == "attention-config.indexer_kv_dtype" and p.value == "mxfp4"


def test_flags_valid_in_their_version_are_not_findings():
    recipe = f"vllm serve {FLASH} --kv-cache-dtype fp8 --block-size 256 --enable-expert-parallel -dp 8 --attention_config.use_fp4_indexer_cache=True"
    assert _problems(recipe, "0.20.0") == []  # the old bool is a 0.20 field
    assert _problems(f"vllm serve {FLASH} --attention-config.indexer_kv_dtype=mxfp4", "0.33.0") == []


def test_flag_added_after_the_target_version():
    [p] = validate(parse_text(f"vllm serve {FLASH} --kda-decode-backend auto"), "0.20.0")
    assert p.kind == "removed" and "added later" in p.message


def test_a_version_between_two_tables_is_judged_by_both():
    assert flag_table_version("vllm", "0.26.0") == "0.20.0/0.33.0"
    assert _problems(f"vllm serve {FLASH} --kda-decode-backend auto --attention_config.use_fp4_indexer_cache=True", "0.26.0") == []


def test_sglang_guide_flags_are_all_known_in_0_5_12():
    text = (ROOT / "fixtures/launch/guide-option-c-flash.sh").read_text()
    assert validate(parse_text(text), "0.5.12") == []


def test_unique_prefixes_are_flags_as_argparse_reads_them():
    """vLLM's and SGLang's parsers keep argparse's allow_abbrev: a unique prefix names the flag."""
    spec = parse_text(f"vllm serve {FLASH} --max-model 4096")
    assert spec.flags == {"max-model-len": "4096"} and validate(spec, "0.33.0") == []
    sg = parse_text(f"python3 -m sglang.launch_server --model-path {FLASH} --tp 8")
    assert sg.flags["tp-size"] == "8" and validate(sg, "0.5.12") == []
    [p] = validate(parse_text(f"vllm serve {FLASH} --max 4096"), "0.33.0")  # ambiguous: argparse refuses it
    assert p.kind == "unknown"
