#!/usr/bin/env python3
"""How long `v4doctor run --ray` takes on a real local Ray cluster, against one-host `run` in the same run.

Usage: `python bench/fleet_speed.py [-n 3] [--nodes 3] [--live]`.
Starts `--nodes` raylets on 127.0.0.1 (tests/fleet_cluster.py: 80 MB object stores, one CPU each). Without
`--live` every node replays fixtures/hosts/8xh100-80g.json through V4DOCTOR_FACTS and the last one the odd
copy (another driver and vLLM); with `--live` the nodes read this machine. Then, as fresh subprocesses,
median of N each:
  peer  `v4doctor run --json` with V4DOCTOR_FACTS (one host, same facts, no Ray)
  fleet `v4doctor run --ray ADDR --json` (connect, one pinned task per node, judge every node + across)
and prints both, the ratio, the cluster's start time, and the fleet report's summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import fleet_cluster  # noqa: E402

PLAN = "vllm serve deepseek-ai/DeepSeek-V4-Pro -tp 8 -pp 2 --distributed-executor-backend ray --max-model-len 65536"


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "v4doctor", *args], capture_output=True, text=True, env=env, cwd=ROOT)
    return time.perf_counter() - start, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--live", action="store_true", help="nodes read this machine instead of replaying the fixture")
    a = ap.parse_args()
    files = fleet_cluster.snapshot_files(Path(tempfile.mkdtemp()))
    envs = [{} if a.live else {"V4DOCTOR_FACTS": str(files["base"])} for _ in range(a.nodes)]
    if not a.live:
        envs[-1] = {"V4DOCTOR_FACTS": str(files["odd"])}
    cluster, _, started = fleet_cluster.start(envs, num_gpus=0 if a.live else 8)
    try:
        env = dict(os.environ, **fleet_cluster.LOOPBACK_ENV, HF_HUB_OFFLINE="1", NO_COLOR="1")
        peer_env = dict(env, **({} if a.live else {"V4DOCTOR_FACTS": str(files["base"])}))
        peer, fleet, last = [], [], None
        for _ in range(a.n):
            peer.append(timed(["run", "--json", "--cmd", PLAN], peer_env)[0])
            t, last = timed(["run", "--ray", cluster.address, "--json", "--cmd", PLAN], env)
            fleet.append(t)
        data = json.loads(last.stdout)
        p, f = statistics.median(peer), statistics.median(fleet)
        print(f"cluster of {a.nodes} node(s) started in {started:.1f} s ({'live' if a.live else 'replayed'} facts)")
        print(f"peer  `run --json` (one host):   median {p:.2f} s of {a.n}: {', '.join(f'{x:.2f}' for x in peer)}")
        print(f"fleet `run --ray ADDR --json`:   median {f:.2f} s of {a.n}: {', '.join(f'{x:.2f}' for x in fleet)}")
        print(f"ratio fleet/peer: {f / p:.2f}x; per-node collector time: {[n['elapsed_s'] for n in data['nodes']]}")
        print(f"exit {last.returncode}; summary: {json.dumps(data['summary'])}")
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
