"""Peak RSS of `diagnose` on hostile inputs (issue #16 asks < 100 MB on any input): one fresh
process per input reads it with `diagnose_file` (the CLI's path) and reports VmHWM and seconds.

    python bench/diagnose_rss.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

INPUTS = {
    "10 MB single line": lambda: b"ValueError: " + b"x9 " * 3_500_000,
    "4 MB of OOM lines, dotted sizes": lambda: b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.2.3 GiB\n" * 55_000,
    "1 MiB of ESC ] x lines": lambda: b"\x1b]x\n" * 262_144,
    "20 MB of random bytes": lambda: bytes(range(256)) * 80_000,
    "5 MB of 400-digit free-memory lines": lambda: (("ValueError: Free memory on device (" + "9" * 400 + "/" + "9" * 400
                                                     + " GiB) on startup is less than desired GPU memory utilization (0.9, 71.3 GiB).\n") * 5_000).encode(),
    "baseline: a real 3-line log": lambda: (Path(__file__).resolve().parent.parent / "fixtures/logs/a-vllm-kv-cache-too-small.log").read_bytes(),
}
_MEASURE = """
import json, sys, time
from v4doctor.logs import diagnose_file
from v4doctor.output.render import to_json
t = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    out = to_json(diagnose_file(fh).to_dict())
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"s": time.perf_counter() - t, "mb": hwm}))
"""


def main() -> int:
    worst = 0.0
    for name, make in INPUTS.items():
        with tempfile.NamedTemporaryFile() as fh:
            fh.write(make())
            fh.flush()
            r = json.loads(subprocess.run([sys.executable, "-c", _MEASURE, fh.name], capture_output=True, text=True, check=True).stdout)
        worst = max(worst, r["mb"])
        print(f"{name:40s} {r['s']:6.2f} s  peak RSS {r['mb']:6.1f} MB")
    print(f"worst peak RSS {worst:.1f} MB (the whole process, interpreter and knowledge base included)")
    return 0 if worst < 100 else 1


if __name__ == "__main__":
    raise SystemExit(main())
