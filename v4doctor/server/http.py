"""The HTTP protocol `serve` runs: uvicorn's own, with TCP_NODELAY, a header deadline and a connection cap.

uvicorn creates the listening socket of `--workers N` (and tests hand over one) with protocol
number 0, so asyncio does not set TCP_NODELAY on the connections it accepts; a response written
as head, then body, then waits about 40 ms for the client's delayed ACK (Nagle's algorithm).

uvicorn has no deadline for a request's headers: 21,000 connections that each send half a
header held every file descriptor. Here a request's headers must arrive within
`LIMITS.header_timeout_s` (else 408 and the connection is closed), and past
`LIMITS.max_connections` the oldest connection still waiting for its headers is closed to make
room, so a client that sends whole requests (a health check) still gets in during such an attack.
"""

from __future__ import annotations

import socket
from collections import OrderedDict
from dataclasses import dataclass

from uvicorn.protocols.http.auto import AutoHTTPProtocol

PROTOCOL = "v4doctor.server.http:NoDelayHTTPProtocol"  # uvicorn's `http=`, importable in worker processes
# The deadline needs httptools' callbacks (on_message_begin, on_headers_complete); h11 has none.
_HTTPTOOLS = AutoHTTPProtocol.__name__ == "HttpToolsProtocol"


@dataclass
class Limits:
    header_timeout_s: float = 10.0
    max_connections: int = 1000


LIMITS = Limits()  # set by create_app from the server's Settings (one per process)
_WAITING: OrderedDict = OrderedDict()  # connections whose request headers have not all arrived, oldest first


def _answer_408(timeout: float) -> bytes:
    body = f'{{"status": 408, "error": "the request headers did not arrive within {timeout:g} s", "problems": []}}'.encode()
    head = f"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # httptools when installed, else h11
    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not every transport lets us; the answer is only slower
                pass
        super().connection_made(transport)
        self._v4d_deadline = None
        self._v4d_wait()
        while len(self.connections) > LIMITS.max_connections and _WAITING:
            oldest = next(iter(_WAITING))
            if oldest is self:
                break
            oldest._v4d_close(b"")

    def _v4d_wait(self) -> None:
        """Start the header deadline of the next request on this connection."""
        if _HTTPTOOLS and getattr(self, "_v4d_deadline", None) is None:
            self._v4d_deadline = self.loop.call_later(LIMITS.header_timeout_s, self._v4d_expired)
            _WAITING[self] = None

    def _v4d_done(self) -> None:
        if getattr(self, "_v4d_deadline", None) is not None:
            self._v4d_deadline.cancel()
            self._v4d_deadline = None
        _WAITING.pop(self, None)

    def _v4d_expired(self) -> None:
        self._v4d_deadline = None
        self._v4d_close(_answer_408(LIMITS.header_timeout_s))

    def _v4d_close(self, answer: bytes) -> None:
        self._v4d_done()
        if not self.transport.is_closing():
            if answer:
                self.transport.write(answer)
            self.transport.close()

    # httptools callbacks: a request begins (its deadline starts unless already running), its headers end
    def on_message_begin(self) -> None:
        self._v4d_wait()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._v4d_done()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._v4d_done()
        super().connection_lost(exc)
