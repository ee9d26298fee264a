"""The HTTP protocol `serve` runs: uvicorn's own, with TCP_NODELAY set on every connection.

uvicorn creates the listening socket of `--workers N` (and tests hand over one) with protocol
number 0, so asyncio does not set TCP_NODELAY on the connections it accepts; a response written
as head, then body, then waits about 40 ms for the client's delayed ACK (Nagle's algorithm).
"""

from __future__ import annotations

import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol

PROTOCOL = "v4doctor.server.http:NoDelayHTTPProtocol"  # uvicorn's `http=`, importable in worker processes


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # httptools when installed, else h11
    def connection_made(self, transport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # not every transport lets us; the answer is only slower
                pass
        super().connection_made(transport)
