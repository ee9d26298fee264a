"""Progress shown on standard error while slow work runs (sha256 of 30-50 GB GGUF shards)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

from v4doctor.weights.hashing import Progress


@contextmanager
def hash_progress(enabled: bool = True) -> Iterator[Progress | None]:
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
