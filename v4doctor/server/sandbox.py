"""A guard that keeps HTTP requests away from the server's own host.

The API judges only what was posted: no endpoint may read the server's files, write
anything, run a program, open a socket or load a native library (NVML). Work for a
request runs inside `sandboxed(fn)`; a Python audit hook (PEP 578) refuses, in that
thread only, every such operation with PermissionError, and records it in `DENIED`.
Reads of v4doctor's own package (knowledge files) and of the Python installation
(lazy imports) stay allowed.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
from typing import Any, Callable

DENIED: collections.deque[str] = collections.deque(maxlen=100)

_local = threading.local()
_ROOTS: tuple[str, ...] = ()
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_ALWAYS_DENIED = (
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "pty.spawn", "ctypes.dlopen", "socket.connect", "socket.bind", "socket.sendto",
    "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "urllib.Request",
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
    "os.symlink", "os.link", "shutil.rmtree", "shutil.move", "shutil.copyfile", "os.chdir",
)
_PATH_EVENTS = ("os.listdir", "os.scandir")


def install(extra_roots: tuple[str, ...] = ()) -> None:
    """Install the audit hook once per process (hooks cannot be removed; idle ones cost little)."""
    global _ROOTS
    from v4doctor import api

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *api.code_roots()}
    first = not _ROOTS
    _ROOTS = tuple(sorted({os.path.realpath(r) + os.sep for r in (*roots, *extra_roots)}))
    if first:
        sys.addaudithook(_hook)


def sandboxed(fn: Callable[[], Any]) -> Any:
    """Run `fn` in this thread with the host closed to it."""
    if not _ROOTS:
        raise RuntimeError("server_sandbox.install() was not called")
    _local.on = True
    try:
        return fn()
    finally:
        _local.on = False


def _hook(event: str, args: tuple) -> None:
    if not getattr(_local, "on", False):
        return
    _local.on = False  # no recursion while we judge
    try:
        reason = _refusal(event, args)
    finally:
        _local.on = True
    if reason:
        DENIED.append(reason)
        raise PermissionError(f"v4doctor server: {reason} is not allowed while handling a request")


def _refusal(event: str, args: tuple) -> str | None:
    if event == "open":
        return _open_refusal(*args[:3])
    if event in _PATH_EVENTS:
        return None if _inside(args[0]) else f"{event} {args[0]!r}"
    if event in _ALWAYS_DENIED:
        return event
    return None


def _open_refusal(path: Any, mode: Any, flags: Any) -> str | None:
    if isinstance(path, int):
        return None  # an already-open descriptor
    writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
    if writes:
        return f"writing {path!r}"
    return None if _inside(path) else f"reading {path!r}"


def _inside(path: Any) -> bool:
    try:
        real = os.path.realpath(os.fsdecode(path if path is not None else "."))
    except (TypeError, ValueError):
        return False
    return any((real + os.sep).startswith(root) for root in _ROOTS)
