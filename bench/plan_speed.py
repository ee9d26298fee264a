"""How fast `plan` answers for an 8-GPU host, against a peer measured in the same run.

    python bench/plan_speed.py            # in-process (first call and warm) and as a command, 8xH200 and 8xB200

The peer is `run`'s judging of one launch command on the same host (`api.check` with the top plan's command):
`plan` sizes every candidate and judges its best ones three times each (docker run, compose, bare command),
so the ratio says how many `run`s one `plan` costs. The command-line figure includes Python start-up and
imports; its peer is `v4doctor fit` for the same host, the lightest command that loads the knowledge base.
The issue's target: a plan for an 8-GPU host in under 0.5 s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _best(fn, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def _cli(args: list[str], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "v4doctor", *args], capture_output=True, check=False)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    t = time.perf_counter()
    from v4doctor import api

    first = api.plan(gpus="8xH200", model="any")
    print(f"first in-process plan (imports, knowledge base, check registry): {time.perf_counter() - t:.3f} s")
    for gpus in ("8xH200", "8xB200"):
        result = api.plan(gpus=gpus)
        cmd = result.plans[0].docker_run
        plan_med, plan_min = _best(lambda: api.plan(gpus=gpus), 20)
        peer_med, peer_min = _best(lambda: api.check(cmd=cmd, engine_version=result.plans[0].engine_version), 20)
        print(f"{gpus}: plan median {plan_med * 1000:.1f} ms (min {plan_min * 1000:.1f}); one run-judge of its top plan "
              f"median {peer_med * 1000:.2f} ms; ratio {plan_med / peer_med:.0f}x; plans {len(result.plans)}, rejected {len(result.rejected)}")
    plan_cli = _cli(["plan", "--gpus", "8xH200", "--json"], 5)
    fit_cli = _cli(["fit", "--gpus", "8xH200", "--model", "flash", "--json"], 5)
    print(f"command line: `v4doctor plan --gpus 8xH200 --json` median {plan_cli:.3f} s; `v4doctor fit --gpus 8xH200` {fit_cli:.3f} s; "
          f"ratio {plan_cli / fit_cli:.2f}x")
    assert first.plans


if __name__ == "__main__":
    main()
