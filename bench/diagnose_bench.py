"""Benchmark `v4doctor diagnose` against `grep -E` over the same literals on the same big log.

The log is built from the real lines of fixtures/logs/ (header comments dropped): healthy start-up
lines cycled, with one error-fixture line inserted every --error-every lines. Reports MB/s and peak
RSS of each, side by side.

    python bench/diagnose_bench.py --size-mb 500
    python bench/diagnose_bench.py --dense --size-mb 200   # real failure logs concatenated: most lines interesting

`--dense` builds the log from the bodies of the labelled failure logs (fixtures/logs/corpus/ minus the
healthy ones, and the signature samples), cycled: most lines are errors, tracebacks, warnings. There the
figure that matters is CPU time (user + sys of the child), reported as diagnose's multiple of `grep -E`'s.
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


def build_dense_log(path: Path, size_mb: int) -> int:
    """Write about size_mb MB of real failure logs, concatenated and cycled; returns the byte count."""
    bodies = []
    for path_ in sorted((LOGS / "corpus").glob("*.log")) + sorted(LOGS.glob("[abcd]-*.log")):
        text = path_.read_text(encoding="utf-8", errors="replace")
        if "# expect: healthy" in text:
            continue
        bodies.append("\n".join(x for x in text.splitlines() if not x.startswith("# ")) + "\n")
    blob = "".join(bodies).encode()
    target = size_mb << 20
    with path.open("wb") as fh:
        for _ in range(target // len(blob) + 1):
            fh.write(blob)
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
    _CPU[tuple(argv)] = usage.ru_utime + usage.ru_stime
    return secs, usage.ru_maxrss, proc.returncode


_CPU: dict[tuple, float] = {}  # argv -> CPU seconds (user + sys) of its last run


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
    ap.add_argument("--dense", action="store_true", help="real failure logs concatenated (most lines interesting)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="v4d-bench-"))
    try:
        log = Path(args.keep) if args.keep else tmp / "bench.log"
        size = build_dense_log(log, args.size_mb) if args.dense else build_log(log, args.size_mb, args.error_every)
        grep_patterns(tmp / "patterns", tmp / "fixed")
        v4d = [sys.executable, "-m", "v4doctor", "diagnose", str(log), "--json"]
        grep = [shutil.which("grep") or "grep", "-c", "-E", "-f", str(tmp / "patterns"), str(log)]
        c_env, u_env = {**os.environ, "LC_ALL": "C"}, {**os.environ, "LC_ALL": "C.UTF-8"}
        fixed = [grep[0], "-c", "-F", "-f", str(tmp / "fixed"), str(log)]
        results, cpu = {}, {}
        for name, argv, env in [("v4doctor diagnose", v4d, None), ("grep -E (LC_ALL=C)", grep, c_env),
                                ("grep -E (UTF-8 locale)", grep, u_env), ("grep -F (LC_ALL=C)", fixed, c_env)]:
            results[name] = _run(argv, tmp / "out", env)
            cpu[name] = _CPU[tuple(argv)]
        print(f"log: {size / 1e6:.0f} MB, " + ("real failure logs concatenated" if args.dense else f"one error line every {args.error_every} lines"))
        for name, (secs, rss_kib, code) in results.items():
            print(f"{name:24s} {size / 1e6 / secs:8.1f} MB/s  {secs:7.2f} s wall  {cpu[name]:7.2f} s CPU  "
                  f"peak RSS {rss_kib / 1024:6.1f} MiB  exit {code}")
        ours, theirs = results["v4doctor diagnose"][0], results["grep -E (LC_ALL=C)"][0]
        print(f"diagnose reaches {theirs / ours:.2f}x of grep's throughput (LC_ALL=C, wall); the aim is >= 0.33")
        cpu_ours, cpu_grep = cpu["v4doctor diagnose"], cpu["grep -E (LC_ALL=C)"]
        print(f"CPU time: diagnose {cpu_ours:.2f} s, grep -E (LC_ALL=C) {cpu_grep:.2f} s: {cpu_ours / cpu_grep:.2f}x "
              "(the aim on dense logs is <= 3x)")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
