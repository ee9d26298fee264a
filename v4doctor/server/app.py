"""The HTTP API (`v4doctor serve`): diagnose, check and fix behind a guarded FastAPI app.

Routes call `v4doctor.api` (the same functions as the CLI) in a small thread pool,
under a time limit and inside the sandbox (`server_sandbox`): no request can read the
server's files, write, run a program or open a socket. Every answer is redacted;
`Accept: text/markdown` gets Markdown a bot can paste. Import cost: FastAPI, so the
CLI imports this module only in `serve`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from v4doctor import __version__, api
from v4doctor.server import sandbox as server_sandbox
from v4doctor.errors import UsageError
from v4doctor.output.redact import redact_text
from v4doctor.server.guard import Guard, error_body

LOG = logging.getLogger("v4doctor.server.app")
MARKDOWN = "text/markdown; charset=utf-8"
ISOLATED_SLOTS = 8  # requests worked on at once when each runs in its own child
SETTINGS_ENV = "V4DOCTOR_SERVE_SETTINGS"  # how `serve --workers N` hands its settings to each worker process


@dataclass(frozen=True)
class Settings:
    """What `v4doctor serve` was started with (see its --help)."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    timeout_s: float = 10.0
    body_timeout_s: float | None = None  # time for the body to arrive; None: timeout_s
    threads: int = 2
    workers: int = 1  # processes: the library is pure Python, so more cores need more processes
    isolate: bool = True  # each request's work in a child process killed at the deadline (else a thread)
    prestarted: bool = True  # those children started before the requests and reused (else one forked per request)
    memory_mb: int = 512  # address space a request's work may add (the child's limit)
    header_timeout_s: float = 10.0  # time for a request's headers to arrive (else 408, connection closed)
    max_connections: int = 1000  # past this, the oldest connection still sending its headers is closed


class ApiError(Exception):
    """An answer other than 200: its status, a one-line message, and what was wrong where."""

    def __init__(self, status: int, message: str, problems: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.message, self.problems = status, message, problems or []


def error_response(status: int, message: str, problems: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, message, problems), status_code=status, media_type="application/json", headers=headers)


# --------------------------------------------------------------------------- running library calls
class Runner:
    """Runs a library call sandboxed within the time limit and maps its errors to HTTP. With `isolate`
    (the default) the call runs in a forked child (server/worker.py) that is killed at the deadline
    and capped in memory; the pool's threads only wait for children, at most `threads` at a time."""

    def __init__(self, timeout_s: float, threads: int, isolate: bool = False, memory_mb: int | None = None, prestarted: bool = True):
        from v4doctor.server import worker

        self.timeout_s, self.memory_mb = timeout_s, memory_mb
        self.isolate = isolate and hasattr(os, "fork")
        # Child processes do the work, so the threads only wait: more may wait than there are cores,
        # and a small request need not queue behind two slow ones.
        slots = max(threads, ISOLATED_SLOTS) if self.isolate else threads
        self.pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="v4doctor-api")
        # Pre-started workers (no fork per request, ~14 ms each); without them a child is forked per request.
        self.workers = worker.WorkerPool(slots, (memory_mb or 0) << 20) if self.isolate and prestarted else None

    async def run(self, fn: Callable[..., Any], *args: Any, heavy: bool = False) -> Any:
        """`fn(*args)` under the limits; `fn` a module-level function (a pre-started worker gets it by reference).
        `heavy` (a large input): run at a lower priority than the normal requests beside it."""
        from v4doctor.server import worker

        loop = asyncio.get_running_loop()
        if self.workers is not None:
            future = loop.run_in_executor(self.pool, self.workers.run, fn, args, self.timeout_s, heavy)
        elif self.isolate:
            future = loop.run_in_executor(self.pool, worker.run_forked, functools.partial(fn, *args), self.timeout_s, (self.memory_mb or 0) << 20)
        else:
            future = loop.run_in_executor(self.pool, server_sandbox.sandboxed, functools.partial(fn, *args))
        try:
            return await asyncio.wait_for(future, self.timeout_s + (5 if self.isolate else 0))
        except (asyncio.TimeoutError, worker.WorkTimeout):
            raise ApiError(504, f"the request took longer than the time limit of {self.timeout_s:g} s") from None
        except worker.WorkMemory:
            raise ApiError(422, f"the request needed more than the memory limit of {self.memory_mb} MiB") from None
        except api.FeatureUnavailable as exc:
            raise ApiError(503, str(exc)) from None
        except api.BAD_INPUT as exc:  # bad input
            raise ApiError(422, str(exc)) from None
        except Exception as exc:
            LOG.error("internal error: %s", redact_text(f"{type(exc).__name__}: {exc}"))  # whatever handler logs it
            raise ApiError(500, f"internal error: {type(exc).__name__}") from None


# --------------------------------------------------------------------------- reading requests
async def read_body(request: Request) -> bytes:
    """The body, read as it streams (chunked too), refused as soon as it passes the limit,
    and given up on (408) when it has not all arrived within the time limit."""
    settings = request.app.state.settings
    limit_s = settings.body_timeout_s or settings.timeout_s
    try:
        return await asyncio.wait_for(_read_limited(request, settings.max_body_bytes), limit_s)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within the time limit of {limit_s:g} s") from None


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ApiError(413, f"request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_json(model: type[BaseModel], body: bytes) -> Any:
    """Validate a JSON body against its model: 400 when it is not JSON, 422 when it is the wrong shape."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        invalid = [e["msg"] for e in errors if e["type"] == "json_invalid"]
        if invalid:  # pydantic's message names the place ("EOF while parsing ... at line 1 column 23"), not the input
            raise ApiError(400, f"the body is not valid JSON ({invalid[0]})") from None
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in errors[:20]]
        whole = next((p["msg"].removeprefix("Value error, ") for p in problems if not p["loc"]), None)  # about the body as a whole
        raise ApiError(422, f"the body does not match the {model.__name__} schema" + (f": {whole}" if whole else ""), problems) from None


def require_json(request: Request) -> None:
    if media_type(request) != "application/json":
        raise ApiError(415, "send the body as application/json")


def wants_markdown(request: Request) -> bool:
    """True when the client ranks text/markdown above JSON in its Accept header."""
    ranks = {"md": 0.0, "json": 0.0}
    for part in request.headers.get("accept", "").split(","):
        kind, _, params = part.strip().partition(";")
        q = _quality(params)
        key = {"text/markdown": "md", "application/json": "json", "*/*": "json"}.get(kind.strip().lower())
        if key:
            ranks[key] = max(ranks[key], q)
    return ranks["md"] > ranks["json"]


def _quality(params: str) -> float:
    for p in params.split(";"):
        name, _, value = p.strip().partition("=")
        if name == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def answer(data: dict[str, Any], markdown: str | None) -> Response:
    """The result as JSON, or as Markdown when asked; `data` was already passed through `api.redact_result`."""
    if markdown is not None:
        return Response(markdown, media_type=MARKDOWN)
    return JSONResponse(data)


def create_app(settings: Settings | None = None):
    """The ASGI app: FastAPI routes wrapped in the Guard (auth, body limit, access log)."""
    from v4doctor.server import routes as server_routes

    settings = settings or Settings()
    server_sandbox.install()
    app = FastAPI(title="v4doctor", version=__version__, docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="The DeepSeek V4 deployment doctor as an HTTP API: diagnose a log, check a snapshot or launch plan, fix a plan.")
    app.state.settings = settings
    app.state.runner = runner = Runner(settings.timeout_s, settings.threads, settings.isolate, settings.memory_mb, settings.prestarted)
    if runner.workers is not None:
        app.router.on_startup.append(functools.partial(runner.workers.start, settings.threads))
        app.router.on_shutdown.append(runner.workers.close)
    from v4doctor.server import http as server_http

    server_http.LIMITS.header_timeout_s, server_http.LIMITS.max_connections = settings.header_timeout_s, settings.max_connections
    server_routes.add_routes(app)
    _add_error_handlers(app)
    app.add_middleware(Guard, token=settings.token, max_body_bytes=settings.max_body_bytes)
    _warm_up()
    return app


def app_from_env():
    """The app of one `serve --workers N` process: settings from the environment, token re-read from its file."""
    import json
    import os

    data = json.loads(os.environ[SETTINGS_ENV])
    token_file = data.pop("token_file", None)
    data["token"] = read_token(token_file) if token_file else None
    log_to_stderr()
    return create_app(Settings(**data))


def log_to_stderr() -> None:
    """Access log lines (JSON) and server messages go to stderr, one line each."""
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(message)s"))
    for name in ("v4doctor.access", "v4doctor.server.app", "uvicorn.error"):
        log = logging.getLogger(name)
        log.handlers[:] = [handler]
        log.setLevel(logging.INFO)
        log.propagate = False


class RedactingFormatter(logging.Formatter):
    """Every server log line, tracebacks included, passes through redaction on its way out."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))  # 405 keeps its Allow

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()[:20]]
        return error_response(422, "the request does not match the schema", problems)


@functools.lru_cache(maxsize=1)
def _warm_up() -> None:
    """Load the knowledge base, the checks and the optional features once, before requests come."""
    api.warm_up()  # compiles the log signatures now, not in the first request


def features() -> dict[str, bool]:
    """Which delegated library features this build has (an endpoint without one answers 503)."""
    import importlib

    found = {}
    for name, (module, attr) in {"diagnose": ("v4doctor.logs", "diagnose_text"), "fix": ("v4doctor.repair.propose", "propose")}.items():
        try:
            found[name] = hasattr(importlib.import_module(module), attr)
        except ImportError:
            found[name] = False
    return {"diagnose": found["diagnose"], "check": True, "fix": found["fix"]}


def read_token(path: str) -> str:
    """The bearer token: the first line of FILE, stripped; an empty or unreadable file is a usage error."""
    from pathlib import Path

    from v4doctor.errors import UsageError

    try:
        token = Path(path).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read token file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if not token or len(token[0].strip()) < 16:
        raise UsageError(f"token file {path} must hold a token of at least 16 characters on its first line")
    return token[0].strip()
