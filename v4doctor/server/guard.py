"""The ASGI layer in front of every route: bearer-token auth, the body limit, the access log.

Pure ASGI (no BaseHTTPMiddleware), so it costs microseconds per request. A request
that fails auth or announces a body over the limit is answered before its body is read.
The access log is one JSON line per request: method, path, status, duration, bytes in
and out — never a body, a query string or a header value.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any, Callable

from v4doctor.output.redact import redact_text

ACCESS_LOG = logging.getLogger("v4doctor.access")
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.json"})


def error_body(status: int, message: str, problems: list[dict[str, Any]] | None = None) -> bytes:
    """The JSON of every error answer (redacted: a message may quote the input)."""
    data = {"status": status, "error": redact_text(message), "problems": problems or []}
    return json.dumps(data, ensure_ascii=False).encode()


async def send_error(send: Callable, status: int, message: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = error_body(status, message)
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Auth, early 413 and access logging around the FastAPI app."""

    def __init__(self, app, *, token: str | None, max_body_bytes: int):
        self.app = app
        self.token = token.encode() if token else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        stats = {"status": 0, "in": 0, "out": 0, "start": time.perf_counter()}

        async def counted_receive():
            message = await receive()
            stats["in"] += len(message.get("body", b""))
            return message

        async def counted_send(message):
            if message["type"] == "http.response.start":
                stats["status"] = message["status"]
            elif message["type"] == "http.response.body":
                stats["out"] += len(message.get("body", b""))
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal:
                await send_error(counted_send, *refusal)
            else:
                await self.app(scope, counted_receive, counted_send)
        except Exception:
            stats["status"] = stats["status"] or 500
            raise
        finally:
            _log_access(scope, stats)

    def _refusal(self, scope) -> tuple | None:
        headers = dict(scope.get("headers") or [])
        if self.token and scope["path"] not in PUBLIC_PATHS and not self._authorized(headers.get(b"authorization", b"")):
            return (401, "missing or wrong bearer token", [(b"www-authenticate", b'Bearer realm="v4doctor"')])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return (413, f"request body is larger than the limit of {self.max_body_bytes} bytes")
        return None

    def _authorized(self, header: bytes) -> bool:
        scheme, _, given = header.partition(b" ")
        # compare_digest on the value alone: its time does not depend on where the bytes differ
        return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)


def _log_access(scope, stats: dict[str, Any]) -> None:
    if not ACCESS_LOG.isEnabledFor(logging.INFO):
        return
    client = scope.get("client") or ("", 0)
    line = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
        "method": scope.get("method"),
        "path": redact_text(scope.get("path", "")),
        "status": stats["status"],
        "duration_ms": round((time.perf_counter() - stats["start"]) * 1000, 2),
        "bytes_in": stats["in"],
        "bytes_out": stats["out"],
        "client": client[0],
    }
    ACCESS_LOG.info(json.dumps(line))
