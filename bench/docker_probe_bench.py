"""Time the Docker collector and `v4doctor probe` against the recorded servers the tests use.

The Docker collector reads `fixtures/docker/h200-host` through the real docker SDK on a unix
socket (version, info, 4 containers listed, 3 engine containers inspected with their images and
log tails, each command parsed and each log diagnosed); the probe runs against the 127.0.0.1
server replaying vLLM's responses. Loopback only, so this measures v4doctor's own cost.

    python bench/docker_probe_bench.py --runs 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def _timed(fn, runs: int) -> list[float]:
    fn()  # warm: imports, first connection
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _report(name: str, ms: list[float]) -> None:
    print(f"{name}: median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms over {len(ms)} runs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()
    from test_docker_engine import FakeEngine
    from test_probe import FakeOpenAI

    from v4doctor.collect.docker import collect
    from v4doctor.probe.endpoint import probe

    with FakeEngine("h200-host") as engine:
        _report("docker collect (h200-host, 3 engine containers)", _timed(lambda: collect(engine.url), args.runs))
    with FakeOpenAI() as server:
        _report("probe (health + models + one streamed reply)", _timed(lambda: probe(server.url), args.runs))


if __name__ == "__main__":
    main()
