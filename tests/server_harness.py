"""A real v4doctor HTTP server on 127.0.0.1 for tests: uvicorn in a thread, on a free port."""

from __future__ import annotations

import logging
import socket
import threading
import time


class LiveServer:
    """`create_app(Settings(**settings))` served by uvicorn on a port the OS picked."""

    def __init__(self, **settings):
        import uvicorn

        from v4doctor.server.app import Settings, create_app

        self.settings = Settings(**settings)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        from v4doctor.server.http import PROTOCOL

        config = uvicorn.Config(create_app(self.settings), log_config=None, access_log=False, lifespan="off", log_level="warning",
                                http=PROTOCOL)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()
        workers = self.server.config.app.state.runner.workers if hasattr(self.server.config.app, "state") else None
        if workers is not None:  # lifespan is off here: the shutdown hook does not run
            workers.close()


class AccessLog(logging.Handler):
    """Collects the JSON lines of the `v4doctor.access` logger."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def wait_for(self, text: str, timeout: float = 5.0) -> None:
        """Until a line containing `text` came (each line is written just after its answer is sent)."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines) and time.monotonic() < deadline:
            time.sleep(0.005)

    def __enter__(self) -> "AccessLog":
        log = logging.getLogger("v4doctor.access")
        self._level = log.level
        log.setLevel(logging.INFO)
        log.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        log = logging.getLogger("v4doctor.access")
        log.removeHandler(self)
        log.setLevel(self._level)
