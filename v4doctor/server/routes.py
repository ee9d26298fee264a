"""The routes of the HTTP API and their OpenAPI description.

Each POST route reads its body under the limit, validates it against its model, and
hands the work to the Runner (thread pool, time limit, sandbox). Bodies are parsed by
hand rather than by FastAPI so that the limit, the content type and the error answers
are ours; `openapi_extra` describes them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

from v4doctor import __version__, api
from v4doctor.output import markdown as server_markdown, render
from v4doctor.output.redact import redact_text
from v4doctor.server.app import (
    ApiError, answer, features, media_type, parse_json, read_body, require_json, wants_markdown,
)
from v4doctor.server.models import (
    CheckIn, ChecksOut, DiagnoseIn, DiagnosisOut, ErrorOut, FixIn, FixResultOut, HealthOut, PlanIn, PlanOut, ReportOut, RowsOut,
)

_ERRORS = {
    400: "not JSON, or a malformed multipart body",
    401: "missing or wrong bearer token (when the server has one)",
    404: "no such row",
    408: "the body did not arrive within the server's time limit",
    413: "body over the server's limit",
    415: "wrong content type",
    422: "valid JSON of the wrong shape, or input the library rejects",
    503: "the library feature is not in this build",
    504: "the request ran past the server's time limit",
}


def _responses(model: type, *codes: int) -> dict[int | str, Any]:
    ok = {"model": model, "description": "the result", "content": {"text/markdown": {"schema": {"type": "string"}}}}
    return {200: ok, **{c: {"model": ErrorOut, "description": _ERRORS[c]} for c in (401, *codes)}}


def _body(model: type, *extra: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    content = {"application/json": {"schema": model.model_json_schema()}, **dict(extra)}
    return {"requestBody": {"required": True, "content": content}}


_MULTIPART = ("multipart/form-data", {"schema": {"type": "object", "required": ["file"],
                                                 "properties": {"file": {"type": "string", "format": "binary"}}}})
_PLAIN = ("text/plain", {"schema": {"type": "string"}})
_POST_ERRORS = (400, 408, 413, 415, 422, 503, 504)
HEAVY_CHARS = 256 << 10  # a log over this runs at a lower priority than the normal requests beside it


def add_routes(app: FastAPI) -> None:
    posts = (
        _json_post("check", CheckIn, ReportOut, _check_job, "Judge a facts snapshot and/or a launch plan: the `run --json` object"),
        _json_post("fix", FixIn, FixResultOut, _fix_job, "Propose a corrected launch command or compose file: findings, patched text and diff"),
        _json_post("plan", PlanIn, PlanOut, _plan_job,
                   "What to run on a host (a snapshot or a hypothetical --gpus): the `plan --json` object; never this server's host"),
    )
    for route in (_diagnose, *posts, _troubleshooting, _checks, _healthz):
        route(app)


def _diagnose(app: FastAPI) -> None:
    @app.post("/v1/diagnose", responses=_responses(DiagnosisOut, *_POST_ERRORS), openapi_extra=_body(DiagnoseIn, _MULTIPART, _PLAIN),
              summary="Diagnose a pasted log (JSON {text}, a multipart file, or text/plain): the `diagnose --json` object")
    async def diagnose(request: Request):
        text = await _log_text(request)
        heavy = len(text) > HEAVY_CHARS
        return answer(*await request.app.state.runner.run(_diagnose_job, text, wants_markdown(request), heavy=heavy))


def _json_post(name: str, model_in: type, model_out: type, job, summary: str):
    """A POST route whose JSON body validates as `model_in` and whose work is `job` (run in a worker)."""

    def add(app: FastAPI) -> None:
        @app.post(f"/v1/{name}", responses=_responses(model_out, *_POST_ERRORS), openapi_extra=_body(model_in),
                  summary=summary, operation_id=f"{name}_v1_{name}_post")  # the id FastAPI gave the named handlers
        async def route(request: Request):
            require_json(request)
            body = parse_json(model_in, await read_body(request))
            return answer(*await request.app.state.runner.run(job, body, wants_markdown(request)))

    return add


# The work of each POST route: module-level functions, so a pre-started worker process gets them by reference.
def _diagnose_job(text: str, md: bool):
    data = api.redact_result(api.diagnose(text).to_dict())
    return data, server_markdown.diagnosis(data) if md else None


def _check_job(body: CheckIn, md: bool):
    report = api.check(body.snapshot, cmd=body.cmd, compose=body.compose, model=body.model, engine=body.engine,
                       engine_version=body.engine_version, select=body.select, ignore=body.ignore)
    data = api.redact_result(report.to_dict())
    return data, render.markdown(data, report.findings) if md else None


def _fix_job(body: FixIn, md: bool):
    result = api.fix(body.text, body.kind, body.snapshot)
    data = api.redact_result({"schema_version": 1, "written": False, "backup": None, **result.to_dict()})  # as `fix --json`; never written
    return data, server_markdown.fix_result(data) if md else None


def _plan_job(body: PlanIn, md: bool):
    result = api.plan(gpus=body.gpus, ram_gib=body.ram_gib, disk_gib=body.disk_gib, driver=body.driver, snapshot=body.snapshot,
                      read_host=False, model=body.model, context=body.context, concurrency=body.concurrency, engine=body.engine,
                      engine_version=body.engine_version, image=body.image, prefer=body.prefer, top=body.top, ignore=body.ignore)
    data = api.redact_result(result.to_dict())
    return data, redact_text(result.to_markdown()) if md else None


def _troubleshooting(app: FastAPI) -> None:
    @app.get("/v1/troubleshooting", responses=_responses(RowsOut, 404, 422), summary="The troubleshooting table (one row with ?id=)")
    async def troubleshooting(request: Request, id: str | None = None):
        rows = _rows()
        if id is not None:
            rows = [r for r in rows if r["id"] == id]
            if not rows:
                raise ApiError(404, f"no troubleshooting row called {id!r}")
        data = api.redact_result({"schema_version": 1, "rows": rows})
        return answer(data, server_markdown.rows(data) if wants_markdown(request) else None)


def _checks(app: FastAPI) -> None:
    @app.get("/v1/checks", responses=_responses(ChecksOut), summary="Every registered check (the `checks --json` object)")
    async def checks(request: Request):
        data = api.redact_result(api.checks())
        return answer(data, server_markdown.checks(data) if wants_markdown(request) else None)


def _healthz(app: FastAPI) -> None:
    @app.get("/healthz", response_model=HealthOut, summary="Liveness, version, and which features this build has")
    async def healthz():
        return {"status": "ok", "version": __version__, "features": features()}


def _rows() -> list[dict[str, Any]]:
    return api.troubleshooting_rows()


# --------------------------------------------------------------------------- log bodies
async def _log_text(request: Request) -> str:
    """The posted log: JSON {"text": ...}, a multipart part named `file`, or a text/plain body."""
    kind = media_type(request)
    if kind not in ("application/json", "multipart/form-data", "text/plain"):
        raise ApiError(415, "send the log as application/json {\"text\": ...}, multipart/form-data (file) or text/plain")
    body = await read_body(request)
    if kind == "application/json":
        return parse_json(DiagnoseIn, body).text
    if kind == "text/plain":
        return body.decode("utf-8", errors="replace")
    return multipart_file(body, request.headers.get("content-type", ""))


def multipart_file(body: bytes, content_type: str, field: str = "file") -> str:
    """The part named `field` of a multipart body, parsed in memory (nothing spools to disk)."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise ApiError(400, "multipart body without a boundary")
    parts = _Parts()
    try:
        parser = MultipartParser(boundary, parts.callbacks())
        parser.write(body)
        parser.finalize()
    except Exception:  # python-multipart raises several error types on malformed input
        raise ApiError(400, "malformed multipart body") from None
    if not parts.ended:
        raise ApiError(400, "truncated multipart body (no closing boundary)")
    if field not in parts.data:
        raise ApiError(422, f"the multipart body has no part named {field!r}")
    return bytes(parts.data[field]).decode("utf-8", errors="replace")


class _Parts:
    """Collects multipart parts by their Content-Disposition name."""

    def __init__(self):
        self.data: dict[str, bytearray] = {}
        self._header, self._value, self._name = b"", b"", None
        self.ended = False

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._begin, "on_part_data": self._part_data, "on_header_field": self._field,
                "on_header_value": self._hvalue, "on_header_end": self._header_end, "on_end": self._end}

    def _end(self) -> None:
        self.ended = True

    def _begin(self) -> None:
        self._name = None

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _hvalue(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            from python_multipart.multipart import parse_options_header

            name = parse_options_header(self._value)[1].get(b"name", b"").decode("utf-8", "replace")
            self._name = None if name in self.data else name  # the first part of a name wins
            if self._name is not None:
                self.data[name] = bytearray()
        self._header, self._value = b"", b""

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._name is not None:
            self.data[self._name] += data[start:end]
