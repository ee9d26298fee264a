"""The one place that writes user files: atomic (temp + rename), with a backup, and
refusing when the file changed since it was read."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from v4doctor.errors import UsageError


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        else:  # a new file gets the usual mode (mkstemp makes it 0600)
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_new(path: str, text: str) -> None:
    """Write an output file (snapshot, report) atomically."""
    p = Path(path)
    try:
        _atomic_write(p, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def replace_file(path: str, new_text: str, read_digest: str) -> Path:
    """Replace a user's file: refuse if it changed since read, keep `<file>.bak`, write atomically."""
    p = Path(path)
    try:
        current = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if digest(current) != read_digest:
        raise UsageError(f"{path} changed since it was read; nothing written (run again)")
    backup = p.with_name(p.name + ".bak")
    try:
        shutil.copy2(p, backup)
        _atomic_write(p, new_text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return backup
