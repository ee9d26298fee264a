#!/usr/bin/env python3
"""How long `v4doctor run` takes on this host, and what each collector costs.

Usage: `python bench/run_speed.py [-n 5] [--model flash --engine vllm]`.
1. `v4doctor run` and `v4doctor run --json` as fresh subprocesses, median of N.
2. Inside one fresh interpreter, each collector timed cold (its imports included), in
   the order `gather()` runs them, then `judge()`. The target is "about a second".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from startup import command

# Runs in a fresh interpreter so that every import is paid where it happens.
_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
costs = {}
from v4doctor.collect import soft
def timed(name, fn, *a):
    start = time.perf_counter()
    out = soft(name, fn, *a)  # as gather() runs them: a failing collector is timed, not fatal
    costs[name] = time.perf_counter() - start
    return out
import importlib
timed("import collectors", importlib.import_module, "v4doctor.collect.target")
from v4doctor.collect.target import build_target
target = timed("target", build_target, sys.argv[1], sys.argv[2])
from v4doctor.collect import gpu, hub, software, system
hub_facts = timed("huggingface", hub.collect, target)
timed("gpu (NVML)", gpu.collect)
timed("system", system.collect, [hub_facts.cache_dir])
timed("python packages", software.collect_python)
timed("binaries (--version)", software.collect_binaries)
for name, call in (("hubremote", lambda m: m.collect(target, hub_facts)), ("docker", lambda m: m.collect()),
                   ("gguf", lambda m: m.collect(target))):
    try:  # collectors other engineers own; timed when present
        module = importlib.import_module(f"v4doctor.collect.{name}")
    except ImportError:
        continue
    timed(f"{name} (cold)", call, module)
from v4doctor.collect import gather
facts = timed("gather (all again, warm)", gather, target)
import importlib
doctor = timed("import doctor (checks load)", importlib.import_module, "v4doctor.judge.doctor")
timed("judge (checks)", doctor.judge, facts)
costs["total in-process"] = time.perf_counter() - t0
print(json.dumps(costs))
"""


def time_run(argv: list[str], n: int, env: dict | None = None) -> float:
    runs = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def per_collector(model: str, engine: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _PROBE, model, engine], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"collector timing failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=5, help="runs per command (default 5)")
    p.add_argument("--model", default="flash")
    p.add_argument("--engine", default="vllm")
    args = p.parse_args(argv)
    base = [*command(), "run", "--model", args.model, "--engine", args.engine]
    time_run(base, 1)  # warm the caches
    print(f"{'v4doctor run':<28} median {time_run(base, args.n) * 1000:7.1f} ms")
    default = time_run([*base, '--json'], args.n)
    import os

    offline = time_run([*base, '--json'], args.n, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    print(f"{'v4doctor run --json':<28} median {default * 1000:7.1f} ms")
    print(f"{'  same, HF_HUB_OFFLINE=1':<28} median {offline * 1000:7.1f} ms  (the default costs {1000 * (default - offline):+.0f} ms more; aim: within 100 ms)")
    print("per collector, cold, in one fresh interpreter:")
    for name, seconds in per_collector(args.model, args.engine).items():
        print(f"  {name:<26} {seconds * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
