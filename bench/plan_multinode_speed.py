"""How much a plan over nodes costs against a one-node plan measured in the same run (in-process, warm).

    python bench/plan_multinode_speed.py [-n 9]

Peer: `plan` for one 8x H200 node (Pro on vLLM). Measured: `plan --nodes 2` on 8x H100 (Pro on vLLM: only plans over
both nodes fit, each judged by `run` for the head and the first follower) and on 8x H200 (one-node plans plus those over
two nodes). Prints the medians and the ratios to the peer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _median(fn, n: int) -> float:
    fn()  # warm: the knowledge base and the check registry load once
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=9)
    n = ap.parse_args().n
    from v4doctor.knowledge.kb import load
    from v4doctor.planner import Goal, hypothetical, plan

    kb = load()
    goal = Goal(model="pro", engine="vllm")
    host = dict(ram_gib=2048, disk_gib=4000, driver="580.65.06")
    h200, h100 = hypothetical("8xH200", kb, **host), hypothetical("8xH100", kb, **host)
    peer = _median(lambda: plan(h200, goal, kb), n)
    rows = [("1 x 8xH200 (peer)", peer),
            ("2 x 8xH100 --nodes 2", _median(lambda: plan(h100, goal, kb, nodes=2), n)),
            ("2 x 8xH200 --nodes 2", _median(lambda: plan(h200, goal, kb, nodes=2), n))]
    for name, t in rows:
        print(f"{name:24s} {t * 1000:7.1f} ms  x{t / peer:.2f}")


if __name__ == "__main__":
    main()
