"""Streamed sha256 of large files (GGUF shards are 30-50 GB): constant memory, a progress callback."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from typing import Callable, Iterator

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


@contextmanager
def rich_progress(enabled: bool = True) -> Iterator[Progress | None]:
    """A progress bar on stderr (one task per file) for sha256_file; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress as Bar, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (TextColumn("sha256 {task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(path: str, done: int, total: int) -> None:
            if path not in tasks:
                tasks[path] = bar.add_task(os.path.basename(path), total=total)
            bar.update(tasks[path], completed=done)

        yield update
