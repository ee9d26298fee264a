#!/usr/bin/env python3
"""How fast v4doctor reads a DeepSeek-V4-sized GGUF header, against gguf.GGUFReader, and sha256 speed.

The file is written with gguf.GGUFWriter: V4-Flash's vocabulary (129,280 token strings plus
as many scores and types, v4-facts §1.2 vocab_size), a chat template, and 43 layers ×
35 tensors (about V4's tensor count) with one-element data, so the header is realistic
and the data tiny. Then: v4doctor's bounded reader vs GGUFReader (median of N), peak
Python memory of each (tracemalloc), and sha256 throughput on a --hash-mb file.

    python bench/gguf_bench.py [-n 5] [--hash-mb 1024]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

VOCAB = 129280
LAYERS, PER_LAYER = 43, 35


def write(path: Path) -> None:
    from gguf import GGUFWriter

    w = GGUFWriter(path, "deepseek4")
    w.add_name("DeepSeek-V4-Flash")
    w.add_uint32("deepseek4.block_count", LAYERS)
    w.add_string("tokenizer.ggml.model", "gpt2")
    w.add_array("tokenizer.ggml.tokens", [f"tok{i:06d}" for i in range(VOCAB)])
    w.add_array("tokenizer.ggml.scores", [0.0] * VOCAB)
    w.add_array("tokenizer.ggml.token_type", [1] * VOCAB)
    w.add_string("tokenizer.chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}" * 40)
    one = np.zeros((1,), dtype=np.float32)
    for i in range(LAYERS):
        for j in range(PER_LAYER):
            w.add_tensor(f"blk.{i}.t{j}.weight", one)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def timed(fn, n: int) -> tuple[float, int]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--hash-mb", type=int, default=1024)
    args = ap.parse_args()
    from gguf import GGUFReader

    from v4doctor.weights.hashing import sha256_file
    from v4doctor.weights.header import read_header

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v4-header.gguf"
        write(path)
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, {LAYERS * PER_LAYER} tensors, {VOCAB} tokens")
        for name, fn, n in (("v4doctor read_header", lambda: read_header(path), args.n), ("gguf.GGUFReader", lambda: GGUFReader(path), 1)):
            t, peak = timed(fn, n)  # GGUFReader takes tens of seconds here: timed once
            print(f"{name:22s} median {t * 1000:8.1f} ms   peak Python memory {peak / 1e6:7.1f} MB")
        blob = Path(tmp) / "blob"
        with open(blob, "wb") as fh:
            chunk = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
            for _ in range(args.hash_mb):
                fh.write(chunk)
        start = time.perf_counter()
        sha256_file(blob)
        elapsed = time.perf_counter() - start
        print(f"sha256_file            {args.hash_mb / elapsed:8.0f} MB/s on {args.hash_mb} MB (page cache warm)")


if __name__ == "__main__":
    main()
