"""`v4doctor serve`: the doctor as an HTTP API for support bots (needs `v4doctor[server]`)."""

from __future__ import annotations

import argparse

HELP = "serve diagnose/check/fix as an HTTP API for support bots (needs the `server` extra)"
MIB = 1024 * 1024


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    p.add_argument("--token-file", metavar="FILE", help="require `Authorization: Bearer <the token in FILE>` on every /v1 route")
    p.add_argument("--max-body-bytes", type=int, default=4 * MIB, metavar="N", help="refuse larger request bodies with 413 (default: 4 MiB)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="answer 504 when the work takes longer, 408 when the body takes longer to arrive (default: 10 s)")
    p.add_argument("--threads", type=int, default=2, metavar="N",
                   help="threads per process for diagnose/check/fix; they share the GIL, so more only keep one slow request from blocking (default: 2)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="server processes, to use N cores (default: 1)")
    p.add_argument("--memory-mb", type=int, default=512, metavar="MB",
                   help="memory one request's work may add; past it the request gets 422 (default: 512)")
    p.add_argument("--no-isolate", dest="isolate", action="store_false",
                   help="work in threads, not in a forked child per request (faster, ~15 ms less per request here, "
                        "but a request past its deadline keeps running and --memory-mb is not enforced)")
    p.add_argument("--fork-per-request", dest="prestarted", action="store_false",
                   help="fork a child for each request instead of reusing pre-started worker processes (~14 ms more per request here)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="S", help="close a connection whose request headers take longer (408; default: 10 s)")
    p.add_argument("--max-connections", type=int, default=1000, metavar="N",
                   help="open connections per process; past it the oldest one still sending its headers is closed (default: 1000)")


def settings_from(args: argparse.Namespace):
    from v4doctor.errors import UsageError
    from v4doctor.server.app import Settings

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port")
    if args.max_body_bytes < 1024:
        raise UsageError("--max-body-bytes must be at least 1024")
    if not 0 < args.timeout <= 3600:
        raise UsageError("--timeout must be between 0 and 3600 seconds")
    if not 1 <= args.threads <= 64:
        raise UsageError("--threads must be between 1 and 64")
    if not 1 <= args.workers <= 64:
        raise UsageError("--workers must be between 1 and 64")
    if not 16 <= args.memory_mb <= 1 << 20:
        raise UsageError("--memory-mb must be between 16 and 1048576")
    if not 0 < args.header_timeout <= 3600:
        raise UsageError("--header-timeout must be between 0 and 3600 seconds")
    if not 16 <= args.max_connections <= 1 << 20:
        raise UsageError("--max-connections must be between 16 and 1048576")
    from v4doctor.server.app import read_token

    token = read_token(args.token_file) if args.token_file else None
    return Settings(host=args.host, port=args.port, token=token, max_body_bytes=args.max_body_bytes,
                    timeout_s=args.timeout, threads=args.threads, workers=args.workers, isolate=args.isolate, prestarted=args.prestarted,
                    memory_mb=args.memory_mb, header_timeout_s=args.header_timeout, max_connections=args.max_connections)


def run(args: argparse.Namespace) -> int:
    import sys

    from v4doctor.errors import UsageError

    try:
        import uvicorn

        from v4doctor.server.app import create_app, log_to_stderr
    except ImportError as exc:
        raise UsageError(f"`v4doctor serve` needs FastAPI and uvicorn ({exc.name} is missing): "
                         "pip install fastapi uvicorn httptools python-multipart — into the same environment as v4doctor "
                         "(from a checkout: pip install '.[server]'; with pipx: pipx inject v4doctor fastapi uvicorn httptools python-multipart)") from None
    settings = settings_from(args)
    if settings.token is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"v4doctor: warning: serving on {settings.host} without --token-file: anyone who can reach it can use it", file=sys.stderr)
    log_to_stderr()
    from v4doctor.server.http import PROTOCOL

    common = dict(host=settings.host, port=settings.port, access_log=False, log_config=None, log_level="info",
                  server_header=False, http=PROTOCOL)
    try:
        if settings.workers > 1:
            _hand_settings_to_workers(settings, args.token_file)
            uvicorn.run("v4doctor.server.app:app_from_env", factory=True, workers=settings.workers, **common)
        else:
            uvicorn.run(create_app(settings), workers=1, **common)
    except SystemExit as exc:  # uvicorn exits 1 when it cannot bind, after logging why
        if exc.code:
            raise UsageError(f"cannot serve on {settings.host}:{settings.port} (see the message above)") from None
    return 0


def _hand_settings_to_workers(settings, token_file: str | None) -> None:
    """Worker processes read the settings from the environment; the token stays in its file."""
    import dataclasses
    import json
    import os

    from v4doctor.server.app import SETTINGS_ENV

    data = {**dataclasses.asdict(settings), "token": None, "token_file": token_file and os.path.abspath(token_file)}
    os.environ[SETTINGS_ENV] = json.dumps(data)
