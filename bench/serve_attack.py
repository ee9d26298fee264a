"""`v4doctor serve` under the attack requests of issue #16: health and a normal diagnose while they run.

Starts the server as a subprocess (`python -m v4doctor serve`, default settings: 2 threads,
10 s deadline, 4 MiB bodies), then for each attack keeps two attack requests in flight
(each one re-sent as soon as it is answered) while this process times `/healthz` and a
small real diagnose (fixtures/logs/a-vllm-kv-cache-too-small.log) one after the other.
Reports the attack's status codes, health and diagnose p50/p99/max, and the server's RSS
(its own process, children not counted) before and after. Baseline: the same timings with
no attack, in the same run. The aim: /healthz under 50 ms and a diagnose under 100 ms.

    python bench/serve_attack.py [--seconds 5] [--serve-args=--fork-per-request]
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
KV_LOG = (ROOT / "fixtures/logs/a-vllm-kv-cache-too-small.log").read_text().split("\n", 2)[2]

_BOMB = "".join(f"x-{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n" for c, p in zip("abcdefg", ["", "a", "b", "c", "d", "e", "f"]))
_BOMB += "services:\n  vllm:\n    image: vllm/vllm-openai:v0.20.0\n    command: *g\n"
ATTACKS = {  # name -> (path, content type, body)
    "yaml alias bomb /v1/check": ("/v1/check", "application/json", json.dumps({"compose": _BOMB})),
    "yaml alias bomb /v1/fix": ("/v1/fix", "application/json", json.dumps({"text": _BOMB, "kind": "compose"})),
    "200 KB aaa://  /v1/fix": ("/v1/fix", "application/json", json.dumps({"text": "a" * 200_000 + "://"})),
    "1 MiB ESC ] x lines /v1/diagnose": ("/v1/diagnose", "text/plain", "\x1b]x\n" * 262_144),
    "20k unknown flags /v1/fix": ("/v1/fix", "application/json",
                                  json.dumps({"text": "vllm serve m " + " ".join(f"--unknown-{i} 1" for i in range(20_000))})),
    "4 MB single-line log /v1/diagnose": ("/v1/diagnose", "text/plain", "ValueError: " + "x9 " * 1_300_000),
    "4 MB of OOM lines /v1/diagnose": ("/v1/diagnose", "text/plain", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.2.3 GiB\n" * 55_000),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _request(port: int, method: str, path: str, body: bytes = b"", ctype: str = "application/json", timeout: float = 60) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers={"Content-Type": ctype} if body else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _timed(port: int, seconds: float) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"health": [], "diagnose": []}
    small = json.dumps({"text": KV_LOG}).encode()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        assert _request(port, "GET", "/healthz") == 200
        out["health"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        status = _request(port, "POST", "/v1/diagnose", small)
        out["diagnose"].append((time.perf_counter() - t) * 1000 if status == 200 else float("inf"))
    return out


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, int(len(xs) * 0.99))]
    return f"p50 {statistics.median(xs):6.1f} ms  p99 {p99:6.1f} ms  max {xs[-1]:6.1f} ms  (n={len(xs)})"


def _attack(port: int, path: str, ctype: str, body: str, stop: threading.Event, codes: list[int]) -> None:
    data = body.encode()
    while not stop.is_set():
        try:
            codes.append(_request(port, "POST", path, data, ctype))
        except OSError:
            codes.append(0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="timing per attack (default 5)")
    ap.add_argument("--serve-args", default="", help="more `serve` options, e.g. --fork-per-request (the way before pre-started workers)")
    args = ap.parse_args()
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "v4doctor", "serve", "--port", str(port), *args.serve_args.split()],
                            stderr=subprocess.DEVNULL, cwd=ROOT)
    print(f"serve {args.serve_args or '(defaults)'}")
    try:
        for _ in range(300):
            try:
                if _request(port, "GET", "/healthz", timeout=1) == 200:
                    break
            except OSError:
                time.sleep(0.1)
        rss0 = _rss_mb(proc.pid)
        base = _timed(port, args.seconds)
        print(f"server RSS after start {rss0:.0f} MB")
        print(f"{'no attack':36s} health {_stats(base['health'])}\n{'':36s} diagnose {_stats(base['diagnose'])}")
        worst_h = worst_d = 0.0
        for name, (path, ctype, body) in ATTACKS.items():
            stop, codes = threading.Event(), []
            threads = [threading.Thread(target=_attack, args=(port, path, ctype, body, stop, codes)) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(0.2)
            got = _timed(port, args.seconds)
            stop.set()
            for t in threads:
                t.join()
            worst_h = max(worst_h, sorted(got["health"])[int(len(got["health"]) * 0.99)])
            worst_d = max(worst_d, sorted(got["diagnose"])[int(len(got["diagnose"]) * 0.99)])
            counts = {c: codes.count(c) for c in sorted(set(codes))}
            print(f"{name:36s} health {_stats(got['health'])}\n{'':36s} diagnose {_stats(got['diagnose'])}  attack answers {counts}  RSS {_rss_mb(proc.pid):.0f} MB")
        print(_slowloris(port, 5000))
        after = _timed(port, 1.0)
        print(f"{'after the attacks':36s} health {_stats(after['health'])}  RSS {_rss_mb(proc.pid):.0f} MB (start {rss0:.0f} MB)")
        print(f"worst p99 during attacks: health {worst_h:.1f} ms, diagnose {worst_d:.1f} ms")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    return 0


def _slowloris(port: int, n: int) -> str:
    """n connections that each send half a header and stop; then a health check."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(s)
        t = time.perf_counter()
        status = _request(port, "GET", "/healthz", timeout=10)
        return f"{n} half-header connections: /healthz {status} in {(time.perf_counter() - t) * 1000:.1f} ms"
    except OSError as exc:
        return f"{n} half-header connections: {exc} after {len(socks)}"
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
