"""Request and response shapes of the HTTP API, as pydantic models.

Requests are validated with these models (strict: the OpenAPI description is exactly
what the server accepts). Response models only document the JSON: endpoints return
the library's own `to_dict()` output unchanged, so the HTTP answer is the CLI's `--json`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


# --------------------------------------------------------------------------- requests
class DiagnoseIn(_In):
    text: str = Field(description="the log, as pasted (any engine, several mixed, truncated is fine)")


_WHAT = ("snapshot", "cmd", "compose", "model")


class CheckIn(_In):
    # The schema says what the server accepts: at least one thing to judge, no blank text (#16: `{}` passed the schema, got 422).
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [{"required": [k]} for k in _WHAT]})

    snapshot: Optional[dict[str, Any]] = Field(None, description="a facts snapshot from `v4doctor snapshot`")
    cmd: Optional[str] = Field(None, pattern=r"\S", description='the planned launch command, e.g. "vllm serve deepseek-ai/DeepSeek-V4-Flash ..."')
    compose: Optional[str] = Field(None, pattern=r"\S", description="the planned docker-compose file, as text")
    model: Optional[str] = Field(None, pattern=r"\S", description="flash, pro or a repo id (default: the snapshot's, else flash)")
    engine: Optional[str] = Field(None, description="vllm, sglang, llamacpp or ollama")
    engine_version: Optional[str] = None
    select: list[str] = Field(default_factory=list, description="run only these check ids, prefixes or categories")
    ignore: list[str] = Field(default_factory=list, description="skip these check ids, prefixes or categories")

    @model_validator(mode="after")
    def _something_to_judge(self) -> "CheckIn":
        if all(getattr(self, k) is None for k in _WHAT):
            raise ValueError("give a facts snapshot, a launch command, a compose text or a model")
        return self


class FixIn(_In):
    text: str = Field(pattern=r"\S", description="a launch command or a docker-compose file, as text (not blank)")
    kind: Optional[Literal["cmd", "compose"]] = Field(None, description="what `text` is (default: guessed)")
    snapshot: Optional[dict[str, Any]] = Field(None, description="a facts snapshot of the host it will run on")


class PlanIn(_In):
    gpus: Optional[str] = Field(None, description="a hypothetical host COUNTxGPU, e.g. 8xH200 (or give a snapshot)")
    ram_gib: Optional[float] = Field(None, description="hypothetical host: system RAM in GiB")
    disk_gib: Optional[float] = Field(None, description="hypothetical host: free disk for the weights in GiB")
    driver: Optional[str] = Field(None, description="hypothetical host: NVIDIA driver version, e.g. 580.65.06")
    snapshot: Optional[dict[str, Any]] = Field(None, description="a facts snapshot from `v4doctor snapshot`")
    model: str = Field("any", description="a checkpoint (repo id or alias), flash, pro, or any")
    context: Optional[int] = Field(None, description="tokens each request needs (default: the longest that fits)")
    concurrency: int = Field(1, description="requests at that context at once")
    engine: str = Field("any", description="any, vllm, sglang or llamacpp")
    engine_version: Optional[str] = None
    image: Optional[str] = None
    prefer: Literal["context", "concurrency", "latency"] = "context"
    top: int = Field(3, description="how many plans (1 to 50)")
    ignore: list[str] = Field(default_factory=list, description="checks left out of the judging, as in /v1/check")


# --------------------------------------------------------------------------- responses
class ErrorOut(_Out):
    status: int
    error: str
    problems: list[dict[str, Any]] = Field(default_factory=list)


class FixOut(_Out):
    text: str
    commands: list[str]
    fixers: list[str]


class FindingOut(_Out):
    id: str
    severity: Literal["error", "warning", "info", "ok", "skipped"]
    category: str
    title: str
    detail: str
    fix: Optional[FixOut]
    evidence: list[str]
    troubleshooting: Optional[str]
    sources: list[str]
    check: str


class ReportOut(_Out):
    schema_version: int
    target: dict[str, Any]
    findings: list[FindingOut]
    summary: dict[str, Any]


class EvidenceOut(_Out):
    line: int
    text: str


class DiagnosisItemOut(_Out):
    id: str
    category: str
    severity: Literal["error", "warning", "info", "ok", "skipped"]
    confidence: float = Field(ge=0, le=1)
    title: str
    cause: str
    fix: str
    troubleshooting: Optional[str]
    evidence: list[EvidenceOut]
    fix_command: Optional[str]


class DiagnosisOut(_Out):
    schema_version: int
    healthy: bool
    detected: dict[str, Any]
    diagnoses: list[DiagnosisItemOut]


class FixResultOut(_Out):
    schema_version: int
    written: Literal[False]
    kind: Literal["cmd", "compose"]
    changed: bool
    applied: list[str]
    findings: list[FindingOut]
    remaining: list[FindingOut]
    before: str
    after: str
    diff: str


class RowOut(_Out):
    id: str
    symptom: str
    cause: str
    fix: str
    sources: list[str]


class RowsOut(_Out):
    schema_version: int
    rows: list[RowOut]


class CheckInfoOut(_Out):
    id: str
    name: str
    category: str
    title: str
    troubleshooting: Optional[str]


class ChecksOut(_Out):
    schema_version: int
    checks: list[CheckInfoOut]
    load_errors: list[dict[str, Any]]


class HealthOut(_Out):
    status: Literal["ok"]
    version: str
    features: dict[str, bool]


class PlanOut(_Out):
    schema_version: int
    host: dict[str, Any]
    goal: dict[str, Any]
    plans: list[dict[str, Any]]
    rejected: list[dict[str, str]]
    suggestion: Optional[str]
