"""`v4doctor fix`, `v4doctor fit` and `v4doctor run --cmd/--compose` at the CLI edge (in-process)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import FIXTURES, HOSTS, run_cli

LAUNCH = FIXTURES / "launch"
FLASH = "deepseek-ai/DeepSeek-V4-Flash"
H100X8 = str(HOSTS / "8xh100-80g.json")


@pytest.fixture
def pro_compose(tmp_path):
    path = tmp_path / "docker-compose.yml"
    shutil.copy(LAUNCH / "guide-option-b-pro.yaml", path)
    return path


def test_fix_compose_prints_findings_and_diff_without_writing(pro_compose):
    before = pro_compose.read_text()
    r = run_cli("fix", "--compose", str(pro_compose), "--facts", H100X8)
    assert r.code == 0 and "V4D303" in r.out
    assert f"+      --model {FLASH}" in r.out and "-      --model deepseek-ai/DeepSeek-V4-Pro" in r.out
    assert pro_compose.read_text() == before and not (pro_compose.parent / "docker-compose.yml.bak").exists()


def test_fix_write_applies_keeps_backup_and_comments(pro_compose):
    before = pro_compose.read_text()
    r = run_cli("fix", "--compose", str(pro_compose), "--facts", H100X8, "--write")
    assert r.code == 0 and "wrote" in r.out
    after = pro_compose.read_text()
    assert f"--model {FLASH}" in after and after.startswith("# Source:") and "deepseek-v4-pro" in after
    assert (pro_compose.parent / "docker-compose.yml.bak").read_text() == before
    again = run_cli("fix", "--compose", str(pro_compose), "--facts", H100X8, "--check")
    assert again.code == 0 and again.out == ""


def test_fix_write_refuses_a_file_changed_since_it_was_read(pro_compose, monkeypatch):
    import v4doctor.repair.propose as fixmod

    real = fixmod.propose

    def propose_then_edit(text, kind, facts=None, config_text=None):
        result = real(text, kind, facts, config_text)
        pro_compose.write_text(text + "# edited meanwhile\n")
        return result

    monkeypatch.setattr(fixmod, "propose", propose_then_edit)
    r = run_cli("fix", "--compose", str(pro_compose), "--facts", H100X8, "--write")
    assert r.code == 2 and "changed since it was read" in r.err
    assert pro_compose.read_text().endswith("# edited meanwhile\n")


def test_fix_check_exits_1_when_a_fix_is_pending(pro_compose):
    assert run_cli("fix", "--check", "--compose", str(pro_compose), "--facts", H100X8).code == 1
    healthy = run_cli("fix", "--check", "--cmd", f"vllm serve {FLASH} -tp 8", "--facts", H100X8)
    assert healthy.code == 0 and healthy.out == ""


def test_fix_cmd_prints_the_corrected_command_and_json():
    r = run_cli("fix", "--cmd", f"vllm serve {FLASH} -tp 8 --block-size 64", "--facts", H100X8)
    assert "corrected command:" in r.out and "--block-size 256" in r.out.split("corrected command:")[1]
    j = run_cli("fix", "--json", "--cmd", f"vllm serve {FLASH} -tp 8 --block-size 64", "--facts", H100X8).json()
    assert j["schema_version"] == 1 and j["changed"] and j["applied"] == ["fix-block-size"]
    assert j["launch_after"]["flags"]["block-size"] == "256" and "V4D307" in {f["id"] for f in j["findings"]}


def test_fix_healthy_says_nothing_to_fix():
    r = run_cli("fix", "--cmd", f"vllm serve {FLASH} -tp 8", "--facts", H100X8)
    assert r.code == 0 and "nothing to fix" in r.out


def test_fix_redacts_tokens_in_the_command():
    cmd = f"HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123456 vllm serve {FLASH} -tp 8 --block-size 64 --api-key sk-secretsecretsecret123"
    for extra in ((), ("--json",)):
        r = run_cli("fix", "--cmd", cmd, "--facts", H100X8, *extra)
        assert r.code == 0 and "--block-size 256" in r.out
        assert "hf_abcdefghijklmnopqrstuvwxyz123456" not in r.out and "sk-secretsecretsecret123" not in r.out


@pytest.mark.parametrize("argv,message", [
    (["fix", "--cmd", f"vllm serve {FLASH} --max-model-len"], "missing its value"),
    (["fix", "--cmd", "frobnicate --model x"], "cannot tell the engine"),
    (["fix", "--cmd", f"vllm serve {FLASH}", "--write"], "--write needs --compose"),
    (["fit", "--gpus", "banana"], "COUNTxNAME"),
    (["fit", "--gpus", "2xNoSuchGPU"], "unknown GPU"),
    (["fit", "--model", "nope", "--gpus", "2xH20"], "unknown model"),
])
def test_bad_input_is_one_line_exit_2(argv, message):
    r = run_cli(*argv)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1


def test_fix_not_a_compose_file_leaves_it_untouched(tmp_path):
    path = tmp_path / "x.yml"
    path.write_text("a: 1\n")
    r = run_cli("fix", "--compose", str(path), "--write")
    assert r.code == 2 and "not a docker-compose file" in r.err and path.read_text() == "a: 1\n"
    assert not (tmp_path / "x.yml.bak").exists()


def test_fit_json_spelled_out():
    j = run_cli("fit", "--model", "flash", "--gpus", "2xH20", "--max-model-len", "131072", "--json").json()
    for key in ("weights_gib_per_gpu", "kv_budget_gib_per_gpu", "kv_tokens", "max_model_len_fits", "fits"):
        assert key in j
    assert j["tp"] == 2 and j["weights_gib_per_gpu"] == pytest.approx(72.73, abs=0.01) and j["fits"] is True


def test_fit_from_a_command_and_facts_prints_the_arithmetic():
    r = run_cli("fit", "--cmd", f"vllm serve {FLASH} -tp 8 --max-model-len 262144", "--facts", H100X8)
    assert r.code == 0 and "weights per GPU" in r.out and "KV budget per GPU" in r.out and "fits" in r.out
    no = run_cli("fit", "--compose", str(LAUNCH / "guide-option-b-flash.yaml"), "--facts", H100X8, "--json")
    assert no.code == 1 and no.json()["weights_fit"] is False


def test_run_includes_launch_checks():
    r = run_cli("run", "--facts", H100X8, "--compose", str(LAUNCH / "guide-option-b-flash.yaml"), "--json", "--select", "V4D3")
    ids = {f["id"]: f["severity"] for f in r.json()["findings"]}
    assert ids["V4D303"] == "error" and ids["V4D314"] == "info"


def test_fix_as_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "v4doctor", "fix", "--cmd", f"vllm serve {FLASH} --block-size 64"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--block-size 256" in r.stdout


def test_vllm_config_file_is_read_and_judged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "serve.yaml").write_text("max-model-len: 2000000\ntensor-parallel-size: 8\n")
    r = run_cli("fix", "--json", "--cmd", f"vllm serve {FLASH} --config serve.yaml", "--facts", H100X8)
    data = r.json()
    assert "V4D301" in {f["id"] for f in data["findings"]}
    assert data["launch_before"]["config_file"] == "serve.yaml"
    fit = run_cli("fit", "--cmd", f"vllm serve {FLASH} --config serve.yaml", "--facts", H100X8, "--json").json()
    assert fit["tp"] == 8 and fit["max_model_len"] == 2000000


def test_fit_a_gguf_defaults_to_llama_cpp_f16_kv_and_the_base_layout():
    j = run_cli("fit", "--model", "teamblobfish-flash-gguf", "--gpus", "2xRTX-PRO-6000", "--json").json()
    assert (j["engine"], j["kv_format"], j["kv_bytes_per_token"]) == ("llamacpp", "f16", 6880.0)


def test_fit_v41_uses_its_published_bytes_per_token_instead_of_refusing():
    """Issue #13: V4.1-Flash got no answer ("no CSA/HCA layer counts"). It is fitted with vLLM 0.33's own V4.1 packing
    (fit_vllm_v41: 116,928 B a 64-token block on Hopper); on a GPU no rule names, DeepSeek's 890 B/token stands in."""
    j = run_cli("fit", "--model", "v4.1-flash", "--gpus", "8xH200", "--json").json()
    assert j["kv_bytes_per_token"] == 116_928 / 64 and j["weights_gib_per_gpu"] > 50 and j["kv_tokens"] > 0
    a = run_cli("fit", "--model", "v4.1-flash", "--gpus", "8xA100-80GB", "--json").json()
    assert a["kv_bytes_per_token"] == 890.0 and any("DeepSeek's bytes per token stand in" in n for n in a["notes"])


def test_run_takes_the_plans_model_and_engine_and_refuses_bad_plans(tmp_path):
    r = run_cli("run", "--facts", H100X8, "--compose", str(LAUNCH / "guide-option-b-pro.yaml"), "--json", "--select", "V4D3")
    assert r.json()["target"]["model_repo"] == "deepseek-ai/DeepSeek-V4-Pro"
    sg = run_cli("run", "--facts", H100X8, "--cmd", f"python3 -m sglang.launch_server --model-path {FLASH} --tp-size 8", "--json", "--select", "V4D3")
    assert sg.json()["target"]["engine"] == "sglang"
    bad = tmp_path / "x.yml"
    bad.write_text("a: 1\n")
    for argv in (["--compose", str(bad)], ["--cmd", f"vllm serve {FLASH} --max-model-len"]):
        r = run_cli("run", "--facts", H100X8, *argv)
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1
