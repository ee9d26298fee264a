"""Load benchmark of `v4doctor serve`: POST /v1/diagnose over loopback with real-size logs.

Starts the server as a subprocess (`python -m v4doctor serve`) and drives it from this
process with keep-alive connections, one thread per concurrent client. The logs are
30-200 KB, built from the real log fixtures under fixtures/logs/ (header comments
dropped): the healthy start-up excerpts repeated as the bulk, ending in one real
failure, as a failed deploy's log does. `--mix dense` uses every fixture instead (every
signature's prefilter fires: the worst case).

Reports requests/s and p50/p99 latency at each concurrency, the server's CPU time per
request (so requests per core-second), and its RSS after warm-up and after --rss-requests
requests (it must not grow).

    python bench/serve_bench.py                     # 64 KB logs, concurrency 1, 8, 32
    python bench/serve_bench.py --size-kb 200 --requests 500 --json out.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"
FAILURES = ["a-vllm-kv-cache-too-small.log", "a-sglang-no-room-for-kv-cache.log", "a-torch-oom-tried-to-allocate.log",
            "a-vllm-deepgemm-unsupported-arch.log", "b-gguf-unknown-arch-deepseek4.log", "b-hf-401-unauthorized.log"]


def _lines(path: Path) -> str:
    """A fixture without its `# source:` header: only what the engine printed."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))


def build_logs(size: int, mix: str) -> list[bytes]:
    """JSON request bodies {"text": log}, each log about `size` bytes, ending in a real failure."""
    if mix == "dense":
        bulk = "".join(_lines(p) for p in sorted(LOGS.glob("*.log")))
        tails = [""]
    else:
        bulk = "".join(_lines(p) for p in sorted(LOGS.glob("healthy-*.log")))
        tails = [_lines(LOGS / name) for name in FAILURES if (LOGS / name).exists()]
    bodies = []
    for tail in tails:
        text = (bulk * (size // max(len(bulk), 1) + 1))[: max(size - len(tail), 0)]
        text = text[: text.rfind("\n") + 1] + tail
        bodies.append(json.dumps({"text": text}).encode())
    return bodies


# --------------------------------------------------------------------------- the server
def start_server(port: int, threads: int, workers: int = 1) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "v4doctor", "serve", "--port", str(port), "--max-body-bytes", str(4 << 20), "--threads", str(threads),
           "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """The server and its worker processes (`--workers N`), from /proc."""
    parents = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                parents[int(p.name)] = int(_stat(int(p.name))[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [c for c, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def rss_mib(pid: int) -> float:
    """Resident memory of the server, its workers included."""
    total = 0
    for p in process_tree(pid):
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server and its workers have used so far."""
    ticks = sum(int(f[11]) + int(f[12]) for f in map(_stat, process_tree(pid)))
    return ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the load
def drive(port: int, bodies: list[bytes], total: int, concurrency: int) -> dict:
    """`total` requests from `concurrency` keep-alive clients; latencies in ms."""
    latencies: list[float] = []
    failures: list[int] = []
    counter = iter(range(total))
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t0 = time.perf_counter()
            conn.request("POST", "/v1/diagnose", body=bodies[i % len(bodies)], headers=headers)
            resp = conn.getresponse()
            resp.read()
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                latencies.append(ms)
                if resp.status != 200:
                    failures.append(resp.status)
        conn.close()

    workers = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "concurrency": concurrency, "requests": total, "errors": len(failures), "error_statuses": sorted(set(failures)),
        "seconds": round(wall, 2),
        "rps": round(total / wall, 1), "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


def measure(port: int, pid: int, bodies: list[bytes], total: int, concurrency: int) -> dict:
    cpu0 = cpu_seconds(pid)
    row = drive(port, bodies, total, concurrency)
    cpu = cpu_seconds(pid) - cpu0
    row["server_cpu_ms_per_req"] = round(cpu / total * 1000, 2)
    row["per_core_rps"] = round(total / cpu, 1) if cpu else None
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size-kb", type=int, default=64, help="log size in KB (30-200; default 64)")
    p.add_argument("--mix", choices=("typical", "dense"), default="typical")
    p.add_argument("--requests", type=int, default=1000, help="requests per concurrency level")
    p.add_argument("--concurrency", default="1,8,32")
    p.add_argument("--rss-requests", type=int, default=10_000, help="requests between the two RSS readings")
    p.add_argument("--threads", type=int, default=2, help="the server's --threads")
    p.add_argument("--workers", type=int, default=1, help="the server's --workers (processes)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)
    bodies = build_logs(args.size_kb * 1024, args.mix)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = start_server(port, args.threads, args.workers)
    try:
        result = run(args, port, proc.pid, bodies)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def run(args, port: int, pid: int, bodies: list[bytes]) -> dict:
    drive(port, bodies, 200, 4)  # warm-up: imports, caches, the first allocations
    rows = [measure(port, pid, bodies, args.requests, int(c)) for c in args.concurrency.split(",")]
    rss_before = rss_mib(pid)
    trend = []
    for _ in range(10):
        drive(port, bodies, args.rss_requests // 10, 8)
        trend.append(round(rss_mib(pid), 1))
    return {
        "log_bytes": [len(json.loads(b)["text"].encode()) for b in bodies], "mix": args.mix, "cpus": os.cpu_count(), "workers": args.workers,
        "levels": rows, "rss_mib_after_warmup": round(rss_before, 1), "rss_mib_every_tenth": trend,
        "rss_requests": args.rss_requests, "rss_growth_mib": round(trend[-1] - rss_before, 1),
    }


def report(r: dict) -> None:
    sizes = r["log_bytes"]
    print(f"POST /v1/diagnose, {r['mix']} logs of {min(sizes) // 1024}-{max(sizes) // 1024} KB, "
          f"{r['workers']} server process(es), {r['cpus']} CPUs (client and server share them)")
    print(f"{'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'srv CPU ms/req':>15} {'req/core-s':>11} {'errors':>7}")
    for row in r["levels"]:
        cells = [row["concurrency"], row["rps"], row["p50_ms"], row["p99_ms"], row["server_cpu_ms_per_req"], row["per_core_rps"], row["errors"]]
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, (5, 8, 8, 8, 15, 11, 7), strict=True)))
        if row["errors"]:
            print(f"      answers other than 200 at concurrency {row['concurrency']}: statuses {row['error_statuses']}")
    print(f"server RSS: {r['rss_mib_after_warmup']} MiB after warm-up, {r['rss_mib_every_tenth'][-1]} MiB after {r['rss_requests']} more requests "
          f"(growth {r['rss_growth_mib']} MiB; every tenth: {r['rss_mib_every_tenth']})")


if __name__ == "__main__":
    raise SystemExit(main())
