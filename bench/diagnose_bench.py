"""Benchmark `v4doctor diagnose` against `grep -E` over the same literals on the same big log.

The log is built from the real lines of fixtures/logs/ (header comments dropped): healthy start-up
lines cycled, with one error-fixture line inserted every --error-every lines. Reports MB/s and peak
RSS of each, side by side.

    python bench/diagnose_bench.py --size-mb 500
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"


def _lines(pattern: str) -> list[str]:
    out = []
    for path in sorted(LOGS.glob(pattern)):
        out += [x for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x and not x.startswith("# ")]
    return out


def build_log(path: Path, size_mb: int, error_every: int) -> int:
    """Write about size_mb MB of real log lines; returns the byte count."""
    healthy, errors = _lines("healthy-*.log"), _lines("[ab]-*.log")
    target, written, n = size_mb << 20, 0, 0
    err = itertools.cycle(errors)
    with path.open("w", encoding="utf-8") as fh:
        for line in itertools.cycle(healthy):
            n += 1
            text = (next(err) if n % error_every == 0 else line) + "\n"
            fh.write(text)
            written += len(text.encode())
            if written >= target:
                break
    return path.stat().st_size


def _run(argv: list[str], out: Path, env: dict | None = None) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KiB) and exit code of one child process. Output goes to a real file:
    GNU grep stops at the first match when its stdout is /dev/null."""
    with out.open("wb") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return secs, usage.ru_maxrss, proc.returncode


def grep_patterns(path: Path, fixed: Path) -> None:
    """The same literals diagnose prefilters on (signatures, LogFacts extractors, failure markers), as EREs
    (and, for reference, as fixed strings for `grep -F`)."""
    from v4doctor.logs.logfacts import EXTRACTORS
    from v4doctor.logs.scan import FAILURE_LITERALS
    from v4doctor.logs.signatures import load_signatures

    literals = {s.literal for s in load_signatures()} | {x.literal for x in EXTRACTORS} | set(FAILURE_LITERALS)
    path.write_text("\n".join(re.sub(r"([.[\]()*+?{}|^$\\])", r"\\\1", x) for x in sorted(literals)) + "\n")
    fixed.write_text("\n".join(sorted(literals)) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=500)
    ap.add_argument("--error-every", type=int, default=1000, help="one error line every N lines (default 1000)")
    ap.add_argument("--keep", metavar="FILE", help="write the log here and keep it")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="v4d-bench-"))
    try:
        log = Path(args.keep) if args.keep else tmp / "bench.log"
        size = build_log(log, args.size_mb, args.error_every)
        grep_patterns(tmp / "patterns", tmp / "fixed")
        v4d = [sys.executable, "-m", "v4doctor", "diagnose", str(log), "--json"]
        grep = [shutil.which("grep") or "grep", "-c", "-E", "-f", str(tmp / "patterns"), str(log)]
        results = {
            "v4doctor diagnose": _run(v4d, tmp / "out"),
            "grep -E (LC_ALL=C)": _run(grep, tmp / "out", {**os.environ, "LC_ALL": "C"}),
            "grep -E (UTF-8 locale)": _run(grep, tmp / "out", {**os.environ, "LC_ALL": "C.UTF-8"}),
            "grep -F (LC_ALL=C)": _run([grep[0], "-c", "-F", "-f", str(tmp / "fixed"), str(log)], tmp / "out", {**os.environ, "LC_ALL": "C"}),
        }
        print(f"log: {size / 1e6:.0f} MB, one error line every {args.error_every} lines")
        for name, (secs, rss_kib, code) in results.items():
            print(f"{name:24s} {size / 1e6 / secs:8.1f} MB/s  {secs:7.2f} s  peak RSS {rss_kib / 1024:6.1f} MiB  exit {code}")
        ours, theirs = results["v4doctor diagnose"][0], results["grep -E (LC_ALL=C)"][0]
        print(f"diagnose reaches {theirs / ours:.2f}x of grep's throughput (LC_ALL=C); the aim is >= 0.33")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
