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
# A heavy job (a large log) runs 10 steps nicer still, so a normal request next to it gets most of a
# core (CFS weights 335 vs 36); a process cannot lower its niceness, so that worker is replaced after it.
HEAVY_NICE = 10


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
    return _outcome(*pickle.loads(data))


def _outcome(status: str, payload: Any, denied: list[str]) -> Any:
    """A child's answer: its result, or its exception re-raised here; its sandbox refusals kept in `DENIED`."""
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


def _detach(*keep: int) -> None:
    """Leave the server's signals and sockets alone: no wakeup fd, default signal actions, only our pipes open."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    for fd in os.listdir("/proc/self/fd"):  # the open ones only (closing 65,536 numbers took ~10 ms)
        if int(fd) > 2 and int(fd) not in keep:
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
    size = _vm_size()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- pre-started workers
_HEADER = 8  # bytes of a message's length


class WorkerPool:
    """Pre-started worker processes, each forked from the server once (the loaded knowledge base shared
    copy-on-write) and serving one request at a time through a pair of pipes: no fork per request.

    A job is `fn(*args)` with `fn` a module-level function (sent by reference, pickled). At its deadline
    the worker is killed and a fresh one forked in its place, so a 504 still frees everything it used; a
    worker that ran out of memory, died, or grew by more than half its memory cap is replaced too. Idle
    workers wait on their pipe and exit when the server closes it (or dies)."""

    def __init__(self, size: int, memory_bytes: int | None):
        import queue
        import threading
        import weakref

        self.size, self.memory_bytes = size, memory_bytes
        self.idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0
        self._all: dict[int, tuple[int, int]] = {}  # pid -> (request fd, answer fd)
        self._finalizer = weakref.finalize(self, _close_all, self._all)

    def start(self, count: int | None = None) -> None:
        """Start up to `count` workers now (all by default), so the first requests do not wait for a fork."""
        for _ in range(self.size if count is None else min(count, self.size)):
            with self._lock:
                if self._started >= self.size:
                    return
                self._started += 1
            self.idle.put(self._spawn())

    def close(self) -> None:
        self._finalizer()

    def run(self, fn: Callable[..., Any], args: tuple, timeout_s: float, heavy: bool = False) -> Any:
        import queue

        deadline = time.monotonic() + timeout_s
        try:
            pid = self.idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._started < self.size
                self._started += grow
            pid = self._spawn() if grow else self._wait_idle(deadline)
        req, ans = self._all[pid]
        try:
            _send(req, pickle.dumps((fn, args, heavy), protocol=pickle.HIGHEST_PROTOCOL))
            data = _receive(ans, deadline)
        except WorkTimeout:
            self._replace(pid)
            raise
        except OSError:
            data = b""
        if not data:
            self._replace(pid)
            raise RuntimeError("the request's worker process died without an answer")
        status, payload, denied, retire = pickle.loads(data)
        if retire:
            self._replace(pid)
        else:
            self.idle.put(pid)
        return _outcome(status, payload, denied)

    def _wait_idle(self, deadline: float) -> int:
        import queue

        try:
            return self.idle.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            raise WorkTimeout() from None

    def _replace(self, pid: int) -> None:
        req, ans = self._all.pop(pid)
        _kill(pid)
        for fd in (req, ans):
            os.close(fd)
        _reap(pid)
        self.idle.put(self._spawn())

    def _spawn(self) -> int:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            _serve_jobs(req_r, ans_w, self.memory_bytes)
        os.close(req_r)
        os.close(ans_w)
        self._all[pid] = (req_w, ans_r)
        return pid


def _close_all(workers: dict[int, tuple[int, int]]) -> None:
    for pid, fds in list(workers.items()):
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        _kill(pid)
        _reap(pid)
    workers.clear()


def _send(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(_HEADER, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkTimeout()
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            return b""
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None) -> bytes:
    head = _read_exactly(fd, _HEADER, deadline)
    return _read_exactly(fd, int.from_bytes(head, "big"), deadline) if head else b""


def _serve_jobs(req: int, ans: int, memory_bytes: int | None) -> None:
    """A worker's life: jobs from `req`, answers to `ans`, until the server closes the pipe."""
    code = 0
    try:
        _detach(req, ans)
        start = _vm_size()
        if memory_bytes:
            _limit_memory(memory_bytes)
        while True:
            data = _receive(req, None)
            if not data:
                break
            before = len(sandbox.DENIED)
            try:
                fn, args, heavy = pickle.loads(data)
                if heavy:
                    os.nice(HEAVY_NICE)
                result: tuple = ("ok", sandbox.sandboxed(lambda: fn(*args)))
            except MemoryError:
                result = ("memory", None)
            except BaseException as exc:  # noqa: BLE001 - sent to the server, which maps it to an answer
                result = ("error", _picklable(exc))
            retire = heavy or result[0] == "memory" or bool(memory_bytes and _vm_size() - start > memory_bytes // 2)
            denied = list(sandbox.DENIED)[before:]
            try:
                out = pickle.dumps((*result, denied, retire), protocol=pickle.HIGHEST_PROTOCOL)
            except MemoryError:
                out, retire = pickle.dumps(("memory", None, denied, True)), True
            result = data = None  # type: ignore[assignment]
            _send(ans, out)
            if retire:
                break
    except BaseException:  # noqa: BLE001 - nothing may escape a forked worker
        code = 1
    finally:
        os._exit(code)


def _vm_size() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()
