"""diagnose end to end: JSON contract, ranking (first cause, wrappers, consequences), fixes with the
log's numbers, host checks on LogFacts, the unrecognised-failure fallback, and the CLI contract."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LOGS, run_cli
from v4doctor.logs import diagnose_text

TOP_KEYS = {"schema_version", "healthy", "detected", "diagnoses"}
ITEM_KEYS = {"id", "category", "severity", "confidence", "title", "cause", "fix", "troubleshooting", "evidence", "fix_command"}


def log(name: str) -> str:
    return (LOGS / name).read_text(encoding="utf-8")


def test_json_top_level_and_item_keys_are_exactly_the_contract():
    r = run_cli("diagnose", str(LOGS / "a-vllm-kv-cache-too-small.log"), "--json")
    data = r.json()
    assert r.code == 1 and set(data) == TOP_KEYS
    assert set(data["detected"]) == {"engine", "engine_version", "model", "args"}
    assert data["diagnoses"] and all(set(d) == ITEM_KEYS for d in data["diagnoses"])
    assert all(set(e) == {"line", "text"} for d in data["diagnoses"] for e in d["evidence"])


def test_kv_cache_numbers_feed_the_corrected_command():
    """The launch args come from vLLM's non-default args line; the fix sets --max-model-len to vLLM's estimate."""
    text = log("healthy-vllm-dp8-b200-banner.log") + log("a-vllm-kv-cache-too-small.log")
    d = diagnose_text(text).to_dict()
    top = d["diagnoses"][0]
    assert top["category"] == "kv_cache_too_small" and "13528" in top["fix"]
    assert top["fix_command"].startswith("vllm serve /root/.cache/huggingface/hub/models--deepseek-ai--DeepSeek-V4-Flash-0731")
    assert "--max-model-len 13528" in top["fix_command"] and "--data-parallel-size 8" in top["fix_command"]
    assert "add back attention_config" in top["fix"]  # printed as AttentionConfig(...), not rebuilt, and said so
    assert d["detected"]["engine_version"] == "0.25.0" and d["detected"]["args"]["kv_cache_dtype"] == "fp8"


def test_no_fix_command_without_a_launch_command_in_the_log():
    d = diagnose_text(log("a-vllm-kv-cache-too-small.log")).to_dict()
    assert d["diagnoses"][0]["fix_command"] is None and "13528" in d["diagnoses"][0]["fix"]


def test_an_echoed_launch_command_is_corrected_in_place():
    """Synthetic: the command of vllm#40778 echoed before the kv-cache-dtype error of vllm#47174."""
    cmd = "$ vllm serve /data/pretrained/DeepSeek-V4-Flash --served-model-name DeepSeek-V4-Flash --block-size 256"
    d = diagnose_text(cmd + "\n" + log("a-vllm-dsv4-kv-cache-dtype-auto.log")).to_dict()
    top = d["diagnoses"][0]
    assert top["id"] == "SIG-VLLM-KV-DTYPE-AUTO"
    assert top["fix_command"] == "vllm serve /data/pretrained/DeepSeek-V4-Flash --served-model-name DeepSeek-V4-Flash --block-size 256 --kv-cache-dtype fp8"


def test_oom_diagnosis_quotes_the_sizes():
    top = diagnose_text(log("a-torch-oom-tried-to-allocate.log")).items[0]
    assert top.category == "oom_weights"
    assert "518.00 MiB" in top.title and "4.06 MiB free of 21.67 GiB" in top.cause


def test_wrapper_only_wraps_the_error_above_it():
    """Engine core initialization failed is folded into the cause printed above it, not a diagnosis of its own."""
    text = log("a-vllm-dsv4-compress-ratios.log") + log("a-vllm-engine-core-init-failed.log")
    items = diagnose_text(text).items
    assert [i.category for i in items] == ["arch_unsupported_engine_too_old"]
    assert "SIG-VLLM-ENGINE-CORE-INIT-FAILED" in items[0].matched
    assert any("Engine core initialization failed" in t for _, t in items[0].evidence)


def test_a_wrapper_alone_is_insufficient_evidence_not_a_guess():
    """Only the wrapper line: it failed, the cause is not in the log (docs/diagnose.md: insufficient_evidence)."""
    d = diagnose_text(log("a-vllm-engine-core-init-failed.log"))
    (item,) = d.items
    assert (item.category, item.severity) == ("insufficient_evidence", "error") and item.confidence <= 0.3 and not d.healthy
    assert "not why" in item.title and item.troubleshooting is None
    assert "SIG-VLLM-ENGINE-CORE-FAILED" in item.matched or item.matched


def test_unknown_failure_says_so_with_its_lines():
    """A failure in words no rule and no training log has: `other`, low confidence, its lines shown."""
    (item,) = diagnose_text("INFO starting the frobnicator\nERROR: frobnicator quux zazzle failed\n").items
    assert (item.id, item.category, item.severity) == ("SIG-OTHER", "other", "error")
    assert item.confidence <= 0.3 and any("zazzle" in t for _, t in item.evidence)


def test_an_unknown_wording_gets_a_learned_lead_at_most_with_its_lines():
    """The MLX server's error is known to no rule: either `other` or the classifier's "Likely X" lead, never more
    confident than a rule, and always with the line that failed."""
    (item,) = diagnose_text(log("a-unrecognised-mlx-server-error.log")).items
    assert item.severity == "error" and item.confidence <= 0.3
    assert item.id == "SIG-OTHER" or (item.id == "DIAG-LEARNED" and item.title.startswith("Likely "))
    assert any("CompressedKVCache" in t for _, t in item.evidence)


def test_first_cause_wins_over_a_later_one():
    """A too-old driver printed first explains what follows: it ranks first, the later OOM second."""
    text = log("a-torch-driver-too-old-11040.log") + log("a-torch-oom-tried-to-allocate.log")
    cats = [i.category for i in diagnose_text(text).items]
    assert cats == ["driver_too_old_or_cuda_mismatch", "oom_weights"]
    text = log("a-torch-oom-tried-to-allocate.log") + log("a-torch-driver-too-old-11040.log")
    assert [i.category for i in diagnose_text(text).items][0] == "oom_weights"


def test_oom_before_an_nccl_timeout_is_the_cause():
    """Group B's NCCL watchdog signature after a group-A OOM: the OOM ranks first, the NCCL error is explained by it."""
    nccl = LOGS / "b-nccl-watchdog-timeout.log"
    if not nccl.exists():
        pytest.skip("group B's NCCL sample is not in the tree")
    items = diagnose_text(log("a-torch-oom-tried-to-allocate.log") + nccl.read_text()).items
    assert items[0].category == "oom_weights"
    nccl_items = [i for i in items if i.category == "nccl_or_shm"]
    assert nccl_items and all(i.confidence < items[0].confidence for i in nccl_items)


def test_independent_problems_are_all_listed():
    text = log("a-vllm-tp-heads-not-divisible-v4.log") + log("a-vllm-no-chat-template.log")
    assert {i.category for i in diagnose_text(text).items} == {"tp_size_mismatch", "tokenizer_or_template"}


SYNTHETIC_019 = (
    # Synthetic: the vLLM banner format of vllm#51454 with version 0.19.0, then the wrapper line of vllm#23176.
    "INFO 08-07 21:32:22 [api_utils.py:339]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.19.0\n"
    "INFO 08-07 21:32:22 [api_utils.py:339]   █▄█▀ █     █     █     █  model   deepseek-ai/DeepSeek-V4-Flash\n"
    "(APIServer pid=1179246) RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}\n"
)


def test_old_engine_version_in_the_log_is_diagnosed_by_the_host_checks():
    d = diagnose_text(SYNTHETIC_019)
    top = d.items[0]
    assert top.id == "V4D201" and top.category == "arch_unsupported_engine_too_old"
    assert top.evidence[0][0] == 1 and "0.20.0" in top.title
    assert "SIG-VLLM-ENGINE-CORE-INIT-FAILED" in top.matched


def test_a_development_build_is_not_called_too_old():
    """No-hit: `version 0.1.dev15830+g8d599d76a` (vllm#40778, a V4 day-0 build) has no release number to compare."""
    d = diagnose_text(SYNTHETIC_019.replace("0.19.0", "0.1.dev15830+g8d599d76a"))
    assert all(i.id != "V4D201" for i in d.items)


def test_absent_gpu_lines_are_not_a_missing_gpu():
    """No-hit: a log without GPU lines must not produce "no NVIDIA GPU" from the host checks."""
    d = diagnose_text(log("healthy-vllm-dp8-b200-banner.log"))
    assert d.healthy and [i.category for i in d.items] == ["insufficient_evidence"]  # a banner only: no sign it came up


def test_slow_prefill_is_a_warning_and_a_short_prompt_is_not():
    d = diagnose_text(log("a-llamacpp-slow-long-prefill.log"))
    assert d.healthy and [(i.category, i.severity) for i in d.items] == [("slow_long_context_prefill", "warning")]
    assert "67865 tokens at 48.69 tokens/s" in d.items[0].title
    assert diagnose_text(log("healthy-llamacpp-short-prompt-timing.log")).items == []


# ------------------------------------------------------------------ CLI
def test_cli_stdin_text_and_exit_codes():
    assert run_cli("diagnose", stdin=log("healthy-vllm-server-started.log")).code == 0
    assert run_cli("diagnose", "-", stdin=log("a-vllm-no-chat-template.log")).code == 1
    r = run_cli("diagnose", "--text", log("a-vllm-tp-heads-not-divisible.log"), "--json")
    assert r.code == 1 and r.json()["diagnoses"][0]["category"] == "tp_size_mismatch"


@pytest.mark.parametrize(
    "argv, message",
    [
        (("diagnose", "/no/such/log"), "cannot read log /no/such/log"),
        (("diagnose", str(LOGS)), "is a directory"),
        (("diagnose", "x.log", "--text", "y"), "either FILE or --text"),
        (("diagnose", "--format", "yaml"), "invalid choice"),
        (("diagnose", "--text", ""), "the log is empty"),
    ],
)
def test_cli_bad_usage_is_one_line_and_exit_2(argv, message):
    r = run_cli(*argv)
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1 and not r.out


def test_terminal_report_exact_text():
    from v4doctor.output.diagnosis import terminal_lines

    data = diagnose_text(log("a-vllm-tp-heads-not-divisible-v4.log")).to_dict()
    text = [t for t, _ in terminal_lines(data)]
    assert text == [
        "v4doctor diagnose: engine not recognised",
        "",
        "1. ✗ --tensor-parallel-size 3 does not divide the model's 64 attention heads  [SIG-VLLM-TP-HEADS-NOT-DIVISIBLE, tp_size_mismatch, confidence 0.95]",
        "   cause: Tensor parallelism splits the 64 attention heads across ranks, so the size must divide 64 (V4-Flash has 64 heads, V4-Pro 128).",
        "   line 3: Value error, Total number of attention heads (64) must be divisible by tensor parallel size (3).",
        "   fix: Pick a --tensor-parallel-size that divides 64 (1, 2, 4, 8, 16), or use --data-parallel-size with --enable-expert-parallel, or --pipeline-parallel-size for the remaining GPUs.",
        "   see: v4doctor explain tp-size-mismatch",
        "",
        "1 problem(s) found, most likely root cause first.",
    ]


def test_markdown_escapes_and_keeps_the_evidence():
    r = run_cli("diagnose", str(LOGS / "a-torch-oom-tried-to-allocate.log"), "--format", "markdown")
    assert r.code == 1 and r.out.startswith("## v4doctor diagnose")
    assert "`torch.cuda.OutOfMemoryError: CUDA out of memory." in r.out and "Out of GPU memory (tried" in r.out


def test_healthy_terminal_report():
    r = run_cli("diagnose", str(LOGS / "healthy-vllm-kv-cache-report.log"))
    assert r.code == 0 and "v4doctor diagnose: vllm" in r.out
    # the excerpt stops after the KV cache report: no failure, but no ready line either, and it says so
    assert "No failure in this log, and no sign that the server came up" in r.out
    up = run_cli("diagnose", str(LOGS / "healthy-vllm-server-started.log"))
    assert up.code == 0 and "No known problem in this log." in up.out
    assert json.loads(run_cli("diagnose", str(LOGS / "healthy-vllm-kv-cache-report.log"), "--json").out)["healthy"] is True


def test_docs_json_example_follows_the_contract():
    import re

    from tests.conftest import ROOT

    text = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    section = text[text.index("## `v4doctor diagnose --json`"):]
    example = json.loads(re.search(r"```json\n(.*?)\n```", section, re.S).group(1))
    assert set(example) == TOP_KEYS and all(set(d) == ITEM_KEYS for d in example["diagnoses"])


def test_free_memory_numbers_give_the_utilization_that_fits():
    """31.44 of 47.38 GiB free -> 0.66 rounded down, minus a 0.01 margin -> --gpu-memory-utilization 0.65."""
    text = log("healthy-vllm-dp8-b200-banner.log") + log("a-vllm-free-memory-less-than-utilization.log")
    top = diagnose_text(text).to_dict()["diagnoses"][0]
    assert top["id"] == "SIG-VLLM-FREE-MEMORY-LESS" and "to 0.65" in top["fix"]
    assert "--gpu-memory-utilization 0.65" in top["fix_command"] and "0.95" not in top["fix_command"]


@pytest.mark.parametrize(
    "groups, expected",
    [
        ({"free": "7.34", "total": "139.72"}, {"max_util": "0.04"}),
        ({"free": "0.1", "total": "80"}, {}),  # nothing fits: no number rather than a wrong one
        ({"free": "x", "total": "80"}, {}),
    ],
)
def test_fitting_utilization(groups, expected):
    from v4doctor.logs.advice import extend

    assert {k: v for k, v in extend("SIG-VLLM-FREE-MEMORY-LESS", groups).items() if k not in groups} == expected


def test_oom_shortfall_units():
    from v4doctor.logs.advice import extend, size_bytes

    assert size_bytes("518.00 MiB") == 518 * 2**20 and size_bytes("19.5904 GB") == 19.5904e9 and size_bytes("lots") is None
    assert extend("SIG-TORCH-CUDA-OOM", {"tried": "2.00 GiB", "free": "1.20 GiB"})["short"] == "819.20 MiB"


def test_a_host_finding_of_the_same_category_joins_the_signature_with_its_earlier_line():
    """Synthetic order: old-version banner (lines 1-2), compress_ratios error (vllm#42741), then the wrapper (vllm#23176)."""
    banner = "\n".join(SYNTHETIC_019.splitlines()[:2]) + "\n"
    (item,) = diagnose_text(banner + log("a-vllm-dsv4-compress-ratios.log") + log("a-vllm-engine-core-init-failed.log")).items
    assert item.id == "SIG-DSV4-CONFIG-COMPRESS-RATIOS" and item.category == "arch_unsupported_engine_too_old"
    assert {"V4D201", "SIG-VLLM-ENGINE-CORE-INIT-FAILED"} <= set(item.matched)
    assert item.line == 1 and item.evidence[0][0] == 1 and "host checks agree" in item.cause


def test_a_docker_run_command_is_corrected_and_another_engines_command_is_not():
    """Synthetic: the docker command of vllm#40778 (turn 10) echoed before the kv-cache-dtype error of vllm#47174."""
    docker = ("PS C:\\Users\\wuwen> docker run --gpus all --ipc=host -p 8005:8005 vllm/vllm-openai:deepseekv4-cu130 "
              "/models/DeepSeek-V4-Flash --trust-remote-code --block-size 256 --tensor-parallel-size 2")
    top = diagnose_text(docker + "\n" + log("a-vllm-dsv4-kv-cache-dtype-auto.log")).items[0]
    assert top.fix_command.startswith("docker run --gpus all") and top.fix_command.endswith("--kv-cache-dtype fp8")
    sglang = "$ python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp 4"
    top = diagnose_text(sglang + "\n" + log("a-vllm-dsv4-kv-cache-dtype-auto.log")).items[0]
    assert top.fix_command is None  # a vLLM flag is never added to an SGLang command


def test_gpus_named_in_the_log_are_judged_by_the_host_checks():
    """Synthetic: the vLLM banner format of vllm#51454 with V4-Flash, then collect_env lines of vllm#15336 (A800, SM80)."""
    text = "\n".join([
        "INFO 08-07 21:32:22 [api_utils.py:339]  ▄▄ ▄█ █     █     █ ▀▄▀ █  version 0.25.0",
        "INFO 08-07 21:32:22 [api_utils.py:339]   █▄█▀ █     █     █     █  model   deepseek-ai/DeepSeek-V4-Flash",
        "GPU models and configuration:",
        "GPU 0: NVIDIA A800-SXM4-80GB",
        "GPU 1: NVIDIA A800-SXM4-80GB",
    ])
    d = diagnose_text(text)
    gpu = next(i for i in d.items if i.category == "gpu_arch_unsupported")
    assert gpu.id.startswith("V4D") and gpu.severity == "error" and gpu.evidence[0] == (4, "GPU 0: NVIDIA A800-SXM4-80GB")
    assert not d.healthy


def test_an_unrecognised_long_traceback_keeps_its_first_and_last_lines():
    """Synthetic: a traceback of many error lines; the evidence keeps where it started and the final exception."""
    lines = ["Traceback (most recent call last):"] + [f'  File "x{i}.py", line {i}, in f\nRuntimeError: step {i} failed' for i in range(20)]
    item = diagnose_text("\n".join(lines) + "\nZeroDivisionError: division by zero\n").items[0]
    assert item.category == "other" and len(item.evidence) == 6
    assert item.evidence[0][1].startswith("Traceback") and item.evidence[-1][1] == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    "line",
    [
        # Synthetic no-hit rows: a logger tagged these INFO/WARNING, so the exception name they quote is no failure.
        "WARNING 06-17 00:26:46 [utils.py:2597] Failed to import optional module: ImportError: libfoo.so",
        "(APIServer pid=1) INFO 08-07 23:22:59 [api.py:46] Retrying after TimeoutError:",
        "0.00.337.657 W srv  llama_server: ValueError: deprecated option",
        "[2026-05-01 15:16:08] WARNING server_args.py:1248: RuntimeError: fallback used",
    ],
)
def test_warnings_that_quote_an_exception_are_not_failures(line):
    d = diagnose_text(line)
    assert d.healthy and [i.category for i in d.items] == ["insufficient_evidence"]


def test_the_same_exception_at_error_level_is_a_failure():
    d = diagnose_text("ERROR 06-17 00:26:46 [core.py:515] ImportError: libfoo.so")
    assert not d.healthy and d.items[0].category == "other"


def test_a_failure_the_server_survived_is_not_reported():
    """Synthetic: an unknown traceback, then the real end of a healthy start-up (vllm#50576): the server came up."""
    text = "Traceback (most recent call last):\nZeroDivisionError: division by zero\n" + log("healthy-vllm-server-started.log")
    assert diagnose_text(text).healthy and diagnose_text(text).items == []
    text = log("healthy-vllm-server-started.log") + "Traceback (most recent call last):\nZeroDivisionError: division by zero\n"
    assert not diagnose_text(text).healthy  # after start-up, a crash is still a failure


def test_memory_lines_of_the_log_join_a_memory_diagnosis():
    """The healthy KV report lines (vllm PR #20665) before a KV error (vllm#44376): the numbers and lines join it."""
    top = diagnose_text(log("healthy-vllm-kv-cache-report.log") + log("a-vllm-kv-cache-too-small.log")).items[0]
    assert top.category == "kv_cache_too_small"
    assert "available KV cache memory 11.33 GiB; GPU KV cache size 807,792 tokens" in top.cause
    assert any("Available KV cache memory: 11.33 GiB" in t for _, t in top.evidence)


def test_a_warning_before_an_error_of_the_same_category_does_not_downgrade_it():
    """Merging two signatures of one category keeps the most severe one as the lead (rank._merge)."""
    from v4doctor.logs.diagnosis import Item
    from v4doctor.logs.rank import _merge

    warn = Item("SIG-W", "hf_rate_limit_or_network", "warning", 0.5, "retrying", "c", "f", None, [(3, "retry")], line=3)
    err = Item("SIG-E", "hf_rate_limit_or_network", "error", 0.9, "gave up", "c", "f", None, [(9, "error")], line=9)
    [merged] = _merge([warn, err])
    assert (merged.id, merged.severity, merged.line) == ("SIG-E", "error", 3)
    assert merged.evidence == [(3, "retry"), (9, "error")] and merged.matched == []


@pytest.mark.parametrize(
    "line",
    [
        "Error: llama runner process has terminated: exit status 2",  # Ollama / Go CLI wording
        "docker: Error response from daemon: driver failed programming external connectivity on endpoint x",
        "aborting with error : failed to initialise the backend",
        "loader: out of memory while mapping tensor blk.3.ffn_up_exps",
    ],
)
def test_a_failure_no_signature_knows_is_other_with_low_confidence_not_healthy(line):
    """Go/Rust/CLI wordings of a failure (no exception name) are failures too: never 'healthy'."""
    d = diagnose_text(line).to_dict()
    assert d["healthy"] is False
    top = d["diagnoses"][0]
    # a wrapper alone ("runner process has terminated", "failed to initialise") says it failed, not why
    assert top["confidence"] <= 0.5 and (top["category"] in ("other", "insufficient_evidence") or top["category"].startswith("oom")
                                         or top["id"] == "DIAG-LEARNED" and top["title"].startswith("Likely "))


def test_error_words_inside_ordinary_info_lines_stay_healthy():
    text = ("INFO 04-24 10:11:12 [api_server.py:1] vLLM API server version 0.20.1\n"
            "INFO 04-24 10:11:13 [metrics.py:3] Error rate 0.0%, 0 out of memory events\n"
            "INFO:     Application startup complete.\n")
    assert diagnose_text(text).to_dict()["healthy"] is True
