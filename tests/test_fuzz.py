"""Issue #16: the fuzz targets of bench/fuzz.py on a short budget with a fixed seed (CI runs these;
`python bench/fuzz.py` runs the long one). Zero crashes, leaks, hangs, non-strict JSON, rewrites
that do not parse and second fixes that change something."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz  # noqa: E402

CASES = {"logs": 300, "commands": 300, "compose": 120, "gguf": 500, "api": 60}


@pytest.mark.fuzz
@pytest.mark.parametrize("target", list(CASES))
def test_fuzz_target_finds_nothing(target):
    counts = fuzz.run(target, CASES[target], seed=16, budget_s=60)
    assert counts.cases >= min(CASES[target], 50)
    assert counts.failures == 0, counts.line() + "\n" + "\n".join(counts.examples)


def _window_lines(text: str) -> dict[int, str]:
    from v4doctor.logs import reader
    from v4doctor.logs.scan import Scanner
    from v4doctor.logs.signatures import load_signatures

    scanner = Scanner(load_signatures())
    for chunk in reader.chunks_from_lines(text.splitlines(True)):
        scanner.feed(chunk)
    scan = scanner.result()
    out = {}
    for start, blob in ((1, scan.head), (scan.tail_start, scan.tail)):
        for i, raw in enumerate(blob.decode().split("\n")[:-1]):
            out[start + i] = raw
    return out


@pytest.mark.parametrize("unit", ["\x1b]x\n", "\n", "x\n"])
def test_log_ends_are_bounded_in_lines_with_their_true_numbers(unit):
    """1 MiB of `ESC ] x` (or empty, or one-letter) lines: the ends kept for the tiers are a bounded number
    of lines (they were 64 KB + 128 KB of them, ~200,000 lines worked one by one: 1-3 s), numbered right."""
    from v4doctor.logs.scan import HEAD_LINES, TAIL_LINES

    n = (1 << 20) // len(unit)
    lines = [f"{i}" if unit == "x\n" else unit.rstrip("\n") for i in range(1, n + 1)]
    kept = _window_lines("\n".join(lines) + "\n")
    assert len(kept) <= HEAD_LINES + TAIL_LINES
    assert 1 in kept and n in kept and n - TAIL_LINES + 1 in kept and n - TAIL_LINES not in kept
    if unit == "x\n":  # each kept line is the line of that number
        assert all(raw == str(i) for i, raw in kept.items())


def test_short_log_is_kept_whole():
    from v4doctor.logs.scan import HEAD_LINES

    lines = [f"line {i}" for i in range(1, HEAD_LINES + 1)]
    kept = _window_lines("\n".join(lines) + "\n")
    assert kept == {i: f"line {i}" for i in range(1, HEAD_LINES + 1)}


# Found by `python bench/fuzz.py --target commands --cases 10000` (seed 16); the planted secrets replaced.
_REWRITES = [
    # a fixer removed `--hf-token K` between a bare typo and the model: read again, the typo took the model
    "python3 -m sglang.launch_server --model-pah --hf-token A1thcHnJlkEGxdOTqyyUG7TRjE7x deepseek-ai/DeepSeek-V4-Flash --tp 8",
    # `--tool-call-parser password:` fixed, the words after it followed the bare `--max-num-batchd-tokens`
    "vllm serve deepseek-ai/DeepSeek-V4-Pro --trust-remote-code --kv-cache-dtype fp8 --block-size 256 --tokenizer-mode deepseek_v4 "
    "--max-num-batchd-tokens --tool-call-parser password: mV8MjBv9o6V4dEfqok4LfXvMg92J deepseek_v4 --enable-auto-tool-choice "
    "--max-model-len 200000",
    # a mangled `-e` name was printed again as a shell prefix before `docker run` (and every -e twice)
    "docker run --gpus all --ipc=host -e VLLM_RPC_TIMEOUT=600000 -e VLLM\u25abLOG_ST\u142fTS_INTERVAL=1 -e CUDA_VISIBLE_DEVICES=0,1 "
    "vllm/vllm-openai:latest deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 2 --block-size 100 --enforce-eager --max-num-batchd-tokens",
    # an exported name bash refuses (`export A▫B=1`) was printed as a prefix no reader takes
    "export VLLM\u25abX=1\nexport HF_HOME=/data\nvllm serve deepseek-ai/DeepSeek-V4-Flash --block-size 100",
]


@pytest.mark.parametrize("text", _REWRITES)
def test_rewrite_reads_again_and_a_second_fix_changes_nothing(text):
    from v4doctor.launch.snippet import parse_text
    from v4doctor.repair.propose import propose

    first = propose(text, "cmd")
    assert first.changed
    again_before, again_after = parse_text(first.before), parse_text(first.after)
    assert again_before.model == first.spec_before.model and again_after.model == first.spec_after.model
    assert not first.after.lstrip().startswith("'")  # no quoted non-name prefix
    second = propose(first.after, "cmd")
    assert second.after == first.after, second.diff


def test_docker_env_is_written_once_inside_docker_run():
    from v4doctor.repair.propose import render_command
    from v4doctor.launch.snippet import parse_text

    spec = parse_text("HF_HOME=/data docker run -e HF_TOKEN=x -e VLLM_A=1 vllm/vllm-openai:latest deepseek-ai/DeepSeek-V4-Flash")
    text = render_command(spec)
    assert text.startswith("HF_HOME=/data docker run") and text.count("VLLM_A=1") == 1
    assert parse_text(text).env == spec.env


def test_a_token_glued_into_a_flag_name_is_masked_in_structured_output():
    """Fuzz (logs, seed 16): `--served-moAccountKey=K==;…` read from a logged command came out as
    `"served-moAccountKey": "K…"` in --json."""
    from v4doctor.output.redact import redact

    out = redact({"args": {"served-moAccountKey": "tYRImCwI0PvUc6g9MYDqWNbfKtII==;=del-name", "max_tokens": "5",
                           "max-num-batched-tokens": "8", "author": "me"}})
    assert out["args"] == {"served-moAccountKey": "[REDACTED]", "max_tokens": "5", "max-num-batched-tokens": "8", "author": "me"}


def test_a_word_too_long_to_be_real_is_refused_before_the_shell_splitter():
    """`shlex` builds a word a character at a time (quadratic): a 200 KB `aaa…://` fix text took 3.4 s
    in the splitter before it was refused. Now a usage error naming the limit, before any splitting."""
    import time

    from v4doctor.errors import UsageError
    from v4doctor.launch.spec import MAX_WORD, split_command
    from v4doctor.repair.propose import propose

    for text in ("a" * 200_000 + "://", "vllm serve m --chat-template " + "x" * (MAX_WORD + 1)):
        for fn in (lambda: propose(text, "cmd"), lambda: split_command(text)):
            t = time.perf_counter()
            with pytest.raises(UsageError, match="limit MAX_WORD"):
                fn()
            assert time.perf_counter() - t < 0.5
    assert propose("vllm serve deepseek-ai/DeepSeek-V4-Flash --chat-template " + "x" * 2000, "cmd").spec_before.flag("chat-template")
    t = time.perf_counter()
    with pytest.raises(UsageError, match="limit MAX_WORDS"):
        propose("vllm serve m " + " ".join(f"--unknown-{i} 1" for i in range(20_000)), "cmd")
    assert time.perf_counter() - t < 0.5


# Found by the long log run (`python bench/fuzz.py --target logs --cases 100000 --seed 16`), secrets replaced.
@pytest.mark.parametrize("line, secret", [
    ("ValueError:\x1b[31 \x1b[0mhf_LD2tfs8G4PyCl2zQqSU1NtYd7GqX, m FP8 quantized models", "LD2tfs8G4PyCl2zQqSU1NtYd7GqX"),
    ("Val\x1b[3/AccountKey=4e9KcRIALoTk6cFu8c5hbg6ZEpoH==;, 1mueError: ValueError:", "4e9KcRIALoTk6cFu8c5hbg6ZEpoH"),
    ("prompt: 1299 tokens,\x1b[3 eyJhbGciOiJIUzI1NiJ9.eyJDJjO6j2KMdHi8UWvwCnPu38FK992.sigDJjO6 1m max", "DJjO6j2KMdHi8UWvwCnPu38FK992"),
])
def test_a_token_whose_first_character_a_cut_escape_code_eats_is_masked(line, secret):
    """An escape code cut short (`ESC[31 `) ends at the next character: stripped, `hf_K` became `f_K`, no known shape."""
    from v4doctor.logs import diagnose_text
    from v4doctor.logs.reader import evidence_text
    from v4doctor.output.redact import redact_text
    from v4doctor.output.render import to_json

    for out in (evidence_text(line), redact_text(line), to_json(diagnose_text(f"{line}\n{line}\n").to_dict())):
        assert secret[:12] not in out and secret[-12:] not in out


def test_a_vram_of_5000_digits_is_no_reading_not_a_crash():
    from v4doctor.logs import diagnose_text

    log = ("ggml_cuda_init: found 1 CUDA devices:\n  Device 0: NVIDIA RTX PRO 6000 Blackwell Workstation Edition, "
           "compute capability 12.0, VMM: yes, VRAM: " + "7" * 5000 + " MiB\n")
    data = diagnose_text(log).to_dict()
    assert data is not None


def test_a_secret_name_glued_to_a_non_ascii_letter_or_a_flag_key_with_its_value_is_masked():
    """Long log run 2 (seed 16): `阳aws_secret_access_key=K` (no \\b between two Unicode letters) and a logged
    flag read as the key `api-key "K"` left K in the output."""
    from v4doctor.output.redact import redact, redact_text

    k = "u22tiWHB5Q9s5KSFjbV4UwQL5Ptn"
    for text in (f"VALUES阳aws_secret_access_key={k}  statement", f"(Reqwest\u1ceaiddlewaaws_secret_access_key={k}(re Error"):
        assert k[:12] not in redact_text(text)
    out = redact({"args": {f'api-key "{k}"\ufffd': True, "max tokens x": 1}})
    assert k[:12] not in str(out) and "max tokens x" in out["args"]
    assert redact_text("… secret': try") == "… secret': try"
