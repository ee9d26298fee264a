"""Rendering is tested as exact text at a fixed width, without colour (rich's own habit)."""

import io

from v4doctor.judge.findings import Finding, Fix, Severity
from v4doctor.output.render import markdown, md_escape, print_terminal, terminal_lines
from v4doctor.judge.report import Report


def _report():
    return Report(
        target={"model": "flash", "model_name": "DeepSeek-V4-Flash", "engine": "vllm", "engine_version": "0.33.0"},
        findings=[
            Finding("V4D101", Severity.OK, "driver", "NVIDIA driver new enough"),
            Finding("V4D110", Severity.ERROR, "gpu", "A100 (8.0) is not supported by vLLM for V4",
                    "vLLM's V4 kernels need SM90+.", Fix("Use Hopper or Blackwell GPUs", ["v4doctor fit --model flash --gpus 4xH200"]),
                    evidence=["gpu.devices[0].compute_capability = 8.0"], sources=["https://github.com/vllm-project/vllm/issues/50576"]),
            Finding("V4D201", Severity.SKIPPED, "disk", "free disk", "hub unknown, because offline"),
            Finding("V4D202", Severity.WARNING, "gpu", "GPU 0 busy: 3.0 GiB held by pid 42 token=hf_abcdefghijklmnop"),
        ],
    )


def _text(verbose=False):
    r = _report()
    buf = io.StringIO()
    print_terminal(terminal_lines(r.to_dict(), r.findings, verbose), file=buf, width=100, color=False)
    return buf.getvalue()


def test_terminal_report_exact_text():
    assert _text() == (
        "v4doctor: DeepSeek-V4-Flash on vllm 0.33.0\n"
        "\n"
        "[✓] NVIDIA driver & CUDA\n"
        "[✗] GPUs\n"
        "    ✗ A100 (8.0) is not supported by vLLM for V4  [V4D110]\n"
        "      vLLM's V4 kernels need SM90+.\n"
        "      fix: Use Hopper or Blackwell GPUs\n"
        "        $ v4doctor fit --model flash --gpus 4xH200\n"
        "    ! GPU 0 busy: 3.0 GiB held by pid 42 token=[REDACTED]  [V4D202]\n"
        "[?] Disk\n"
        "    ? free disk  [V4D201]\n"
        "      hub unknown, because offline\n"
        "\n"
        "1 error(s), 1 warning(s), 1 could not be checked. Not ready to deploy.\n"
    )


def test_verbose_shows_passing_checks_evidence_and_sources():
    text = _text(verbose=True)
    assert "    ✓ NVIDIA driver new enough  [V4D101]" in text
    assert "      evidence: gpu.devices[0].compute_capability = 8.0" in text
    assert "      source: https://github.com/vllm-project/vllm/issues/50576" in text


def test_markdown_escapes_user_text_and_redacts():
    r = _report()
    md = markdown(r.to_dict(), r.findings)
    assert "### ✗ GPUs" in md and "`V4D110`" in md
    assert "hf_abcdef" not in md
    assert md_escape("<script>[x](http://a) *b* `c` |d|") == "\\<script\\>\\[x\\](http://a) \\*b\\* \\`c\\` \\|d\\|"
    assert md_escape("weights (805.35 GiB) + KV") == "weights (805.35 GiB) + KV"  # no needless escapes


def test_report_summary_and_exit_codes():
    r = _report()
    assert r.summary() == {"error": 1, "warning": 1, "info": 0, "ok": 1, "skipped": 1, "ready": False}
    assert r.exit_code("error") == 1
    r.findings = [f for f in r.findings if f.severity is not Severity.ERROR]
    assert r.exit_code("error") == 0 and r.exit_code("warning") == 1
    assert [f["severity"] for f in r.to_dict()["findings"]] == ["warning", "skipped", "ok"]


def test_checks_skipped_for_one_reason_share_a_line_without_verbose():
    reason = "docker unknown, because no docker socket at /var/run/docker.sock"
    r = Report(target={"model": "flash", "engine": "vllm"},
               findings=[Finding(f"V4D50{i}", Severity.SKIPPED, "docker", f"docker check {i}", reason) for i in (1, 2, 3)])
    buf = io.StringIO()
    print_terminal(terminal_lines(r.to_dict(), r.findings), file=buf, width=100, color=False)
    assert buf.getvalue().splitlines()[2:5] == [
        "[?] Docker",
        "    ? 3 checks could not run  [V4D501, V4D502, V4D503]",
        f"      {reason}",
    ]
    verbose = io.StringIO()
    print_terminal(terminal_lines(r.to_dict(), r.findings, verbose=True), file=verbose, width=100, color=False)
    assert verbose.getvalue().count(reason) == 3
