"""Each request's work in a forked child process: killed at its deadline, capped in memory.

A thread cannot be stopped: a request that ran past its deadline kept its worker thread (and
its memory, and the GIL) after the 504. Here the work runs in a child forked for it, which
sees the server's loaded knowledge base for free (copy-on-write). The child runs the work in
the sandbox with an address-space limit, sends back the pickled result (or the exception, or
"out of memory") through a pipe, and exits; at the deadline it is killed, and a kill frees
everything it used. The sandbox's refusals in the child are sent back into `sandbox.DENIED`.
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import select
import signal
import time
from typing import Any, Callable

from v4doctor.server import sandbox


CHILD_NICE = 5


class WorkTimeout(Exception):
    """The work ran past its deadline; the child was killed."""


class WorkMemory(Exception):
    """The work needed more memory than the per-request limit."""


def run_forked(fn: Callable[[], Any], timeout_s: float, memory_bytes: int | None) -> Any:
    """Run `fn()` sandboxed in a forked child; its result, or its exception re-raised here."""
    deadline = time.monotonic() + timeout_s
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(r)
        _child(fn, w, memory_bytes)
    os.close(w)
    try:
        data = _read_all(r, deadline)
    except WorkTimeout:
        _kill(pid)
        raise
    finally:
        os.close(r)
        _reap(pid)
    if not data:
        raise RuntimeError("the request's worker process died without an answer")
    status, payload, denied = pickle.loads(data)
    sandbox.DENIED.extend(denied)
    if status == "ok":
        return payload
    if status == "memory":
        raise WorkMemory()
    raise payload


def _read_all(fd: int, deadline: float) -> bytes:
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WorkTimeout()
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise WorkTimeout()
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Wait for the child: it closed the pipe by exiting, or it was killed."""
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _child(fn: Callable[[], Any], w: int, memory_bytes: int | None) -> None:
    code = 0
    try:
        _detach(w)
        if memory_bytes:
            _limit_memory(memory_bytes)
        before = len(sandbox.DENIED)
        try:
            result: tuple = ("ok", sandbox.sandboxed(fn))
        except MemoryError:
            result = ("memory", None)
        except BaseException as exc:  # noqa: BLE001 - sent to the parent, which maps it to an answer
            result = ("error", _picklable(exc))
        denied = list(sandbox.DENIED)[before:]
        try:
            data = pickle.dumps((*result, denied), protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            data = pickle.dumps(("memory", None, denied))
        view = memoryview(data)
        while view:
            view = view[os.write(w, view):]
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 1
    finally:
        os._exit(code)


def _detach(w: int) -> None:
    """Leave the server's signals and sockets alone: no wakeup fd, default signal actions, only our pipe open."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    for fd in os.listdir("/proc/self/fd"):  # the open ones only (closing 65,536 numbers took ~10 ms)
        if int(fd) > 2 and int(fd) != w:
            try:
                os.close(int(fd))
            except OSError:
                pass
    gc.freeze()  # the inherited heap is not collected: fewer copy-on-write pages
    try:
        os.nice(CHILD_NICE)  # the server's own loop (health checks, answers) goes first when cores are busy
    except OSError:
        pass


def _limit_memory(memory_bytes: int) -> None:
    with open("/proc/self/statm", "rb") as fh:
        size = int(fh.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
