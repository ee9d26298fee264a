#!/usr/bin/env python3
"""Start-up time of `v4doctor --version` and `v4doctor --help`, as fresh subprocesses (median of N).

Usage: `python bench/startup.py [-n 15]`. The budget is well under 0.3 s for both: no heavy
import (rich, pynvml, huggingface_hub, docker) may happen before a subcommand needs it.
A bare `python -c pass` is timed too, as the floor no CLI can beat.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

BUDGET_S = 0.3


def command() -> list[str]:
    """The installed console script when on PATH, else `python -m v4doctor`."""
    exe = shutil.which("v4doctor")
    return [exe] if exe else [sys.executable, "-m", "v4doctor"]


def time_once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(argv: list[str], n: int) -> dict[str, float]:
    time_once(argv)  # warm the page cache and the .pyc files
    runs = [time_once(argv) for _ in range(n)]
    return {"median_s": statistics.median(runs), "min_s": min(runs), "max_s": max(runs)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=15, help="runs per command (default 15)")
    args = p.parse_args(argv)
    base = command()
    cases = {"python -c pass": [sys.executable, "-c", "pass"],
             "v4doctor --version": [*base, "--version"],
             "v4doctor --help": [*base, "--help"]}
    over = False
    for label, cmd in cases.items():
        r = measure(cmd, args.n)
        flag = "" if label.startswith("python") or r["median_s"] < BUDGET_S else f"  OVER {BUDGET_S} s"
        over |= bool(flag)
        print(f"{label:<22} median {r['median_s'] * 1000:7.1f} ms  min {r['min_s'] * 1000:7.1f} ms  max {r['max_s'] * 1000:7.1f} ms{flag}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
