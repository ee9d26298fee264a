"""Fixers: for each, the expected diff, idempotence, the check passing afterwards, and healthy input
giving "nothing to fix". Plans are judged on recorded hosts from fixtures/hosts/."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from check_cases import host
from conftest import FIXTURES

from v4doctor.judge.findings import Finding, Severity
from v4doctor.repair.propose import propose
from v4doctor.repair.fixers import FIXERS
from v4doctor.launch.snippet import parse_text

FLASH = "deepseek-ai/DeepSeek-V4-Flash"
LAUNCH = FIXTURES / "launch"
RECIPE = (LAUNCH / "recipe-flash-blackwell-dp8.sh").read_text()


def facts(name: str, version: str | None = None):
    return host(name, engine_version=version)


def changes(result) -> tuple[list[str], list[str]]:
    lines = result.diff.splitlines()
    minus = [line[1:].strip(" \\") for line in lines if line.startswith("-") and not line.startswith("---")]
    plus = [line[1:].strip(" \\") for line in lines if line.startswith("+") and not line.startswith("+++")]
    same = set(minus) & set(plus)  # a line that only gained or lost its trailing `\`
    return [m for m in minus if m not in same], [p for p in plus if p not in same]


def settled(result, kind: str, fx, check_id: str) -> None:
    """A second pass changes nothing, and the check no longer fires."""
    again = propose(result.after, kind, fx)
    assert not again.changed, again.diff
    assert check_id not in {f.id for f in again.findings if f.severity in (Severity.ERROR, Severity.WARNING)}


def test_fix_max_model_len_lowers_to_the_largest_that_fits():
    fx = facts("2xrtxpro6000", "0.33.0")
    r = propose(f"vllm serve {FLASH} -tp 2 --max-model-len 1048576 --gpu-memory-utilization 0.9", "cmd", fx)
    assert r.applied == ["fix-max-model-len"]
    minus, plus = changes(r)
    assert minus == ["--max-model-len 1048576"] and len(plus) == 1
    value = int(plus[0].split()[1])
    assert 0 < value < 1048576 and value % 256 == 0
    settled(r, "cmd", fx, "V4D302")


def test_fix_pro_to_flash_keeps_the_served_name_and_refits():
    fx = facts("8xh100-80g", "0.33.0")
    r = propose((LAUNCH / "guide-option-b-pro.yaml").read_text(), "compose", fx)
    assert r.applied[0] == "fix-pro-to-flash"
    minus, plus = changes(r)
    assert minus[0] == "--model deepseek-ai/DeepSeek-V4-Pro" and plus[0] == f"--model {FLASH}"
    assert r.spec_after.flags["served-model-name"] == "deepseek-v4-pro"
    assert "V4D303" not in {f.id for f in r.remaining}
    settled(r, "compose", fx, "V4D303")


def test_fix_parallel_uses_the_gpus_there_are():
    fx = facts("4xh200", "0.33.0")
    r = propose(f"vllm serve {FLASH} -tp 8", "cmd", fx)
    assert changes(r) == (["-tp 8"], ["-tp 4"]) and r.applied == ["fix-parallel"]
    settled(r, "cmd", fx, "V4D304")


def test_fix_tokenizer_mode():
    fx = facts("4xh200", "0.33.0")
    r = propose(f"vllm serve {FLASH} -tp 4 --tokenizer-mode hf", "cmd", fx)
    assert changes(r) == (["--tokenizer-mode hf"], ["--tokenizer-mode deepseek_v4"])
    settled(r, "cmd", fx, "V4D305")


def test_fix_kv_cache_dtype_on_vllm_026():
    fx = facts("4xh200")
    r = propose(f"docker run --gpus all --ipc=host vllm/vllm-openai:v0.26.0 --model {FLASH} -tp 4", "cmd", fx)
    assert r.applied == ["fix-kv-cache-dtype"]
    minus, plus = changes(r)
    assert plus[-1] == "--kv-cache-dtype fp8"
    settled(r, "cmd", fx, "V4D306")


def test_fix_block_size():
    fx = facts("4xh200", "0.33.0")
    r = propose(f"vllm serve {FLASH} -tp 4 --block-size 64", "cmd", fx)
    assert changes(r) == (["--block-size 64"], ["--block-size 256"])
    settled(r, "cmd", fx, "V4D307")


def test_fix_shm_adds_ipc_host_to_compose_keeping_comments():
    text = (LAUNCH / "guide-option-b-flash.yaml").read_text().replace('    shm_size: "16gb"\n', "").replace(
        "--tensor-parallel-size 1", "--tensor-parallel-size 8")
    fx = facts("8xh100-80g", "0.33.0")
    r = propose(text, "compose", fx)
    assert "fix-shm" in r.applied
    minus, plus = changes(r)
    assert "ipc: host" in plus and r.after.startswith("# Source:")
    settled(r, "compose", fx, "V4D310")


def test_fix_cuda_image_on_an_r570_driver():
    fx = facts("driver570-vllm020-cu130")
    r = propose(f"docker run --gpus all --ipc=host vllm/vllm-openai:v0.26.0 --model {FLASH} -tp 8 --kv-cache-dtype fp8", "cmd", fx)
    assert r.applied == ["fix-cuda-image"] and "vllm/vllm-openai:v0.26.0-cu129" in r.after
    settled(r, "cmd", fx, "V4D313")


def test_fix_invalid_flags_renames_the_removed_indexer_bool_on_blackwell():
    fx = facts("8xb200", "0.33.0")
    r = propose(RECIPE, "cmd", fx)
    minus, plus = changes(r)
    assert "--attention_config.use_fp4_indexer_cache=True" in minus
    assert "--attention-config.indexer_kv_dtype=mxfp4" in plus
    settled(r, "cmd", fx, "V4D315")


def test_fix_invalid_flags_drops_blackwell_only_flags_on_hopper():
    fx = facts("8xh100-80g", "0.26.0")
    r = propose(RECIPE, "cmd", fx)
    minus, _ = changes(r)
    assert {"--attention_config.use_fp4_indexer_cache=True", "--moe-backend deep_gemm_mega_moe"} <= set(minus)
    settled(r, "cmd", fx, "V4D309")


def test_fix_invalid_flags_fixes_a_typo_without_duplicating():
    fx = facts("4xh200", "0.33.0")
    r = propose(f"vllm serve {FLASH} -tp 4 --max-modle-len 4096", "cmd", fx)
    assert changes(r) == (["--max-modle-len 4096"], ["--max-model-len 4096"])
    both = propose(f"vllm serve {FLASH} -tp 4 --max-model-len 4096 --max-modle-len 5", "cmd", fx)
    assert changes(both) == (["--max-modle-len 5"], [])


@pytest.mark.parametrize("text,kind,host_name", [
    (f"vllm serve {FLASH} -tp 4", "cmd", "4xh200"),
    (f"vllm serve {FLASH} -tp 8 --max-model-len 262144", "cmd", "8xh100-80g"),
    (f"docker run --gpus all --ipc=host vllm/vllm-openai:v0.33.0 --model {FLASH} -tp 8", "cmd", "8xb200"),
])
def test_healthy_plans_have_nothing_to_fix(text, kind, host_name):
    r = propose(text, kind, facts(host_name, "0.33.0"))
    assert not r.changed and r.applied == [] and r.diff == ""
    assert not [f for f in r.findings if f.severity is Severity.ERROR]


def test_every_fixer_named_by_a_check_exists():
    from v4doctor.judge.doctor import registry

    import check_cases_launch

    named = set()
    for check_id, builder, severity, _ in check_cases_launch.CASES:
        if severity != "ok":
            from v4doctor.judge.doctor import judge

            named |= {x for f in judge(builder(), select=[check_id]).findings if f.fix for x in f.fix.fixers}
    assert named <= set(FIXERS) and registry()


def test_fixers_are_pure():
    spec = parse_text(f"vllm serve {FLASH} --block-size 64")
    finding = Finding("V4D307", Severity.ERROR, "flags", "t")
    out = FIXERS["fix-block-size"](spec, finding)
    assert spec.flags["block-size"] == "64" and out.flags["block-size"] == "256"
    assert dataclasses.replace(out) == out


def test_fix_parallel_spreads_the_guides_flash_compose_over_all_gpus():
    fx = facts("8xh100-80g", "0.33.0")
    r = propose((LAUNCH / "guide-option-b-flash.yaml").read_text(), "compose", fx)
    assert r.applied == ["fix-parallel"]
    assert changes(r) == (["--tensor-parallel-size 1"], ["--tensor-parallel-size 8"])
    settled(r, "compose", fx, "V4D303")


def test_fix_pro_to_flash_pins_the_old_name_when_none_was_served():
    fx = facts("8xh100-80g", "0.33.0")
    r = propose("vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8", "cmd", fx)
    assert r.spec_after.model == FLASH and r.spec_after.flags["served-model-name"] == "deepseek-ai/DeepSeek-V4-Pro"
    settled(r, "cmd", fx, "V4D303")


_FLAGS = ["-tp 8", "-tp 3", "--max-model-len 2000000", "--max-model-len 4096", "--tokenizer-mode hf", "--block-size 64",
          "--kv-cache-dtype bfloat16", "--max-modle-len 5", "--attention_config.use_fp4_indexer_cache=True",
          "--moe-backend deep_gemm_mega_moe", "--enable-expert-parallel", "-dp 2", "--served-model-name x"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([FLASH, "deepseek-ai/DeepSeek-V4-Pro"]), st.lists(st.sampled_from(_FLAGS), max_size=5, unique=True),
       st.sampled_from(["4xh200", "8xh100-80g", "2xrtxpro6000", "8xb200"]), st.sampled_from(["0.26.0", "0.33.0"]))
def test_fuzz_fix_reaches_a_fixed_point(model, flags, host_name, version):
    fx = facts(host_name, version)
    r = propose(f"vllm serve {model} " + " ".join(flags), "cmd", fx)
    again = propose(r.after, "cmd", fx)
    assert not again.changed, (flags, r.after, again.diff)
