"""The one place that writes user files, and it never loses or damages one.

`replace_file` (fix --write):
- writes the file a symlink points to (the link stays a link);
- keeps the file's owner, group and mode; a file with hard links, or one whose owner this
  process cannot give to a new file, is rewritten in place (same inode), else a complete
  temp file is renamed over it (old or new, never half);
- first writes a numbered backup (`NAME.bak`, `NAME.bak.1`, …) that is linked into place only
  once complete and fsynced, so a backup is never overwritten, never empty, never partial;
- keeps CRLF line endings and a UTF-8 BOM;
- refuses when the file changed since it was read (by content, and again by stat before the
  last step);
- leaves no temp file: its own are removed on error, and those of an earlier killed run
  (`.NAME.v4d-PID.tmp` of a dead PID) are removed on the next run.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path

from v4doctor.errors import UsageError

BOM = b"\xef\xbb\xbf"
MAX_BACKUPS = 1000


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _step(name: str) -> None:
    """A named point of the write; tests replace this to kill the process there."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.v4d-{os.getpid()}.tmp")


def _write_fd(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _write_temp(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> Path:
    """A complete, fsynced temp file next to `path` with the given mode (and owner)."""
    tmp = _tmp_name(path)
    tmp.unlink(missing_ok=True)  # our own PID's leftover
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        _step("temp-open")
        if owner is not None:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        _write_fd(fd, data)
        _step("temp-written")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return tmp


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _clean_stale(path: Path) -> None:
    """Remove `.NAME.v4d-PID.tmp` files whose process is gone (an earlier run killed mid-write)."""
    pattern = re.compile(r"\." + re.escape(path.name) + r"\.v4d-(\d+)\.tmp\Z")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m and not _alive(int(m.group(1))):
            try:
                os.unlink(path.parent / name)
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftover from an earlier call
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_new(path: str, text: str) -> None:
    """Write an output file (snapshot, report) atomically: a complete temp file renamed into place."""
    p = Path(path)
    try:
        _clean_stale(p)
        st = p.stat() if p.exists() else None
        mode = st.st_mode & 0o7777 if st else 0o666 & ~_umask()
        tmp = _write_temp(p, text.encode("utf-8"), mode, None)
        try:
            os.replace(tmp, p)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _as_read(raw: bytes) -> str:
    """The text as `Path.read_text` gave it to the caller (universal newlines)."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _encode_like(new_text: str, raw: bytes) -> bytes:
    """Encode `new_text` with the original's BOM and CRLF line endings when it had them."""
    text = new_text[1:] if new_text.startswith("\ufeff") else new_text
    if b"\r\n" in raw and "\r\n" not in text:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    return BOM + data if raw.startswith(BOM) else data


def _backup(target: Path, raw: bytes, st: os.stat_result) -> Path:
    """Write `raw` to the first free `NAME.bak[.N]`: linked into place only once complete."""
    owner = (st.st_uid, st.st_gid) if _can_chown(st) else None
    tmp = _write_temp(target, raw, st.st_mode & 0o7777, owner)
    try:
        for n in range(MAX_BACKUPS):
            candidate = target.with_name(target.name + (".bak" if n == 0 else f".bak.{n}"))
            try:
                os.link(tmp, candidate)
            except FileExistsError:
                continue
            _step("backup-linked")
            return candidate
        raise UsageError(f"{target}: {MAX_BACKUPS} backups exist already; remove some and run again")
    finally:
        tmp.unlink(missing_ok=True)
        _step("backup-done")


def _can_chown(st: os.stat_result) -> bool:
    return os.geteuid() == 0 or (st.st_uid == os.geteuid() and st.st_gid in os.getgroups() + [os.getegid()])


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_dev, b.st_size, b.st_mtime_ns)


def _in_place(target: Path, data: bytes, st: os.stat_result) -> None:
    """Rewrite the same inode (hard links stay joined); the complete backup exists already."""
    fd = os.open(target, os.O_WRONLY)
    try:
        if not _same(os.fstat(fd), st):
            raise UsageError(f"{target} changed since it was read; nothing written (run again)")
        _step("in-place-open")
        os.ftruncate(fd, 0)
        _write_fd(fd, data)
        _step("in-place-written")
    finally:
        os.close(fd)


def _renamed(target: Path, data: bytes, st: os.stat_result) -> None:
    """A complete temp file with the same owner and mode, renamed over the target."""
    tmp = _write_temp(target, data, st.st_mode & 0o7777, (st.st_uid, st.st_gid))
    try:
        if not _same(os.stat(target), st):
            raise UsageError(f"{target} changed since it was read; nothing written (run again)")
        os.replace(tmp, target)
        _step("renamed")
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)


def replace_file(path: str, new_text: str, read_digest: str) -> Path:
    """Replace a user's file's contents safely (see the module docstring); the backup's path."""
    try:
        target = Path(os.path.realpath(path))
        _clean_stale(target)
        with open(target, "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
        if digest(_as_read(raw)) != read_digest:
            raise UsageError(f"{path} changed since it was read; nothing written (run again)")
        data = _encode_like(new_text, raw)
        backup = _backup(target, raw, st)
        if st.st_nlink > 1 or not _can_chown(st):
            _in_place(target, data, st)
        else:
            _renamed(target, data, st)
        return backup
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a UTF-8 text file; nothing written") from None
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
