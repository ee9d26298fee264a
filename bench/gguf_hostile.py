"""Hostile GGUF headers: seconds and peak RSS of v4doctor's header reader on each, one fresh
process per file (so the peak is the reader's, not the builder's). Issue #16 asks < 1 s, < 50 MB.

    python bench/gguf_hostile.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import hostile_gguf  # noqa: E402

_MEASURE = """
import json, sys, time
from v4doctor.weights.header import GGUFError, read_header
def _hwm():  # peak RSS of this process image (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t = time.perf_counter()
try:
    h = read_header(sys.argv[1]); out = f"read: {len(h.tensors)} tensors, {len(h.metadata)} keys"
except GGUFError as exc:
    out = "rejected: " + str(exc)
print(json.dumps({"s": time.perf_counter() - t, "rss_mb": _hwm(), "out": out}))
"""


def main() -> int:
    worst_s = worst_mb = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in {**hostile_gguf.HOSTILE, **hostile_gguf.LARGEST_ACCEPTED}.items():
            path = make(Path(tmp) / f"{name}.gguf")
            r = json.loads(subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True).stdout)
            path.unlink()
            worst_s, worst_mb = max(worst_s, r["s"]), max(worst_mb, r["rss_mb"])
            print(f"{name:30s} {r['s']:7.3f} s {r['rss_mb']:6.1f} MB peak  {r['out'][:100]}")
    print(f"worst: {worst_s:.3f} s, {worst_mb:.1f} MB peak RSS (process total)")
    return 0 if worst_s < 1 and worst_mb < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
