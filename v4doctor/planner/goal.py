"""What the operator asks of a plan: which checkpoint and engine, the context each request needs,
how many requests at that context, and what to favour when several plans fit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from v4doctor.errors import UsageError

PREFERENCES = ("context", "concurrency", "latency")
ENGINES = ("any", "vllm", "sglang", "llamacpp")
MIN_CONTEXT = 32_768  # without --context a plan must hold at least this many tokens per request
MAX_CONTEXT = 1_048_576


@dataclass(frozen=True)
class Goal:
    model: str = "any"  # a checkpoint (repo id or alias), flash, pro, or any
    context: int | None = None  # tokens each request needs; None: the longest that fits
    concurrency: int = 1  # requests at that context at once
    engine: str = "any"
    engine_version: str | None = None  # the version the operator has (vLLM/SGLang release, llama.cpp bNNNN)
    image: str | None = None  # the image the operator has
    prefer: str = "context"
    top: int = 3
    ignore: tuple[str, ...] = field(default=())  # check ids/prefixes/categories left out of the judging, as `run --ignore`

    def __post_init__(self):
        if self.prefer not in PREFERENCES:
            raise UsageError(f"--prefer {self.prefer!r}: choose one of {', '.join(PREFERENCES)}")
        if self.engine not in ENGINES:
            raise UsageError(f"--engine {self.engine!r}: choose one of {', '.join(ENGINES)}")
        if self.context is not None and not 1 <= self.context <= MAX_CONTEXT:
            raise UsageError(f"--context {self.context}: expected 1 to {MAX_CONTEXT:,} tokens")
        if not 1 <= self.concurrency <= 100_000:
            raise UsageError(f"--concurrency {self.concurrency}: expected 1 to 100000")
        if not 1 <= self.top <= 50:
            raise UsageError(f"--top {self.top}: expected 1 to 50")
        if not str(self.model).strip():
            raise UsageError("--model is empty: give a checkpoint, flash, pro or any")

    @property
    def needed_context(self) -> int:
        return self.context or MIN_CONTEXT

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ignore"] = list(self.ignore)
        return out
