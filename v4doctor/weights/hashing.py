"""Streamed sha256 of large files (GGUF shards are 30-50 GB): constant memory, a progress callback."""

from __future__ import annotations

import hashlib
import os
from typing import Callable

CHUNK = 8 << 20  # 8 MiB reads: near disk speed, small memory

Progress = Callable[[str, int, int], None]  # (path, bytes done, bytes total)


def sha256_file(path: str | os.PathLike, progress: Progress | None = None) -> str:
    """The hex sha256 of a file, read in 8 MiB chunks; `progress` is told after each chunk."""
    digest = hashlib.sha256()
    total = os.path.getsize(path)
    done = 0
    with open(path, "rb", buffering=0) as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(str(path), done, total)
    return digest.hexdigest()
