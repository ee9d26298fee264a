"""Fuzz v4doctor with mutations of its real fixtures: logs, launch commands, compose files,
GGUF headers and the API routes. Counts crashes (an exception that is not the documented
bad-input error), leaks (a planted secret in any output), hangs (a case over its time
limit), non-strict JSON (NaN/Infinity), rewrites that do not parse again and second fixes
that still change something. Deterministic for a seed.

    python bench/fuzz.py                                  # the long run: 1e5 logs, 1e4 of the rest
    python bench/fuzz.py --target logs --cases 2000 --seed 7
CI runs a short budget of every target (tests/test_fuzz.py, marker `fuzz`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"
LAUNCH = ROOT / "fixtures" / "launch"
HANG_S = {"logs": 5.0, "commands": 5.0, "compose": 5.0, "gguf": 1.0, "api": 15.0}
LONG = {"logs": 100_000, "commands": 10_000, "compose": 10_000, "gguf": 10_000, "api": 2_000}


@dataclass
class Counts:
    target: str
    cases: int = 0
    crashes: int = 0
    leaks: int = 0
    hangs: int = 0
    nonstrict: int = 0
    reparse: int = 0
    second_fix: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.crashes + self.leaks + self.hangs + self.nonstrict + self.reparse + self.second_fix

    def note(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 10:
            self.examples.append(f"{kind}: {what[:300]!r}")

    def line(self) -> str:
        return (f"{self.target:9s} {self.cases:7d} cases in {self.seconds:7.1f} s: {self.crashes} crashes, {self.leaks} leaks, "
                f"{self.hangs} hangs, {self.nonstrict} non-strict JSON, {self.reparse} rewrites that do not parse, "
                f"{self.second_fix} second fixes that change something")


# --------------------------------------------------------------------------- planted secrets
def _secret(rng: random.Random) -> tuple[str, str]:
    """(text as a user would paste it, the part that must never come out)."""
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(28))
    up = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    shapes = [f"hf_{body}", f"sk-proj-{body}", f"Authorization: Bearer {body}", f"HF_TOKEN={body}", f"--api-key {body}",
              f"--api-key k{body[:6]} {body}", f"--api_key={body}", f'--api-key "{body}"', f"https://u:{body}@h.example/x",
              f'auth: "Basic {body}"', f"aws_secret_access_key={body}", f"AccountKey={body}==;", f"eyJhbGciOiJIUzI1NiJ9.eyJ{body}.sig{body[:5]}",
              f"\x1b[0mhf_{body}", f"password: {body}", f"--hf-token {body}"]
    if rng.random() < 0.1:
        return f"AKIA{up}", up
    return rng.choice(shapes), body


_WEIRD_NUMBERS = ["1.2.3", "9" * 400, "1e999", "-1e999", "nan", "inf", "-0", "0x1f", "", "7" * 5000, "1_000", "٣", "1e-99999", "00012", "3.", ".5"]
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _mutate_line(rng: random.Random, line: str) -> str:
    op = rng.randrange(7)
    if op == 0 and _NUM.search(line):
        spans = list(_NUM.finditer(line))
        m = rng.choice(spans)
        return line[: m.start()] + rng.choice(_WEIRD_NUMBERS) + line[m.end():]
    if op == 1 and line:
        i = rng.randrange(len(line) + 1)
        return line[:i] + rng.choice(["\x1b[31m", "\x1b]0;t\x07", "\x1b]x", "\r", "\t", "\x00", "\ufeff", "'", '"', "{", "}", "\\"]) + line[i:]
    if op == 2 and line:
        return line[: rng.randrange(len(line) + 1)]
    if op == 3 and line:
        chars = list(line)
        for _ in range(rng.randint(1, 4)):
            chars[rng.randrange(len(chars))] = chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000)]))
        return "".join(chars)
    if op == 4:
        return line * rng.randint(2, 50)
    if op == 5:
        return line + " " + "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 200)))
    return line


# What a secret sits next to in real text: a token glued to letters (`Hesk-…`) is prose to any reader.
_SEPARATORS = [" ", " ", " ", "\t", "=", ": ", "'", '"', "(", "[", "/", "\x1b[0m", "\x1b[31m", ", "]


def _plant(rng: random.Random, lines: list[str], secrets: list[str]) -> None:
    """Plant a secret in a line not planted before (one inside another would cut it), or on its own line."""
    text, core = _secret(rng)
    secrets.append(core)
    i = rng.randrange(len(lines) + 1)
    clean = i < len(lines) and not any(s[:12] in lines[i] for s in secrets[:-1])
    if lines and clean and rng.random() < 0.6:
        line = lines[i]
        j = rng.randrange(len(line) + 1)
        lines[i] = line[:j] + rng.choice(_SEPARATORS) + text + rng.choice(_SEPARATORS) + line[j:]
    else:
        lines.insert(i, text)


def _leaked(out: str, secrets: list[str]) -> str | None:
    return next((s for s in secrets if s in out or s[:12] in out or s[-12:] in out), None)


def _strict(text: str) -> bool:
    def bad(c):
        raise ValueError(c)

    try:
        json.loads(text, parse_constant=bad)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- corpora
def _fixture_lines(path: Path) -> list[str]:
    return [l for l in path.read_text(encoding="utf-8", errors="replace").splitlines() if not l.startswith("# ")]


def log_corpus() -> list[list[str]]:
    files = sorted(LOGS.glob("*.log")) + sorted((LOGS / "corpus").glob("*.log"))
    return [lines for lines in map(_fixture_lines, files) if lines]


def command_corpus() -> list[str]:
    out = []
    for p in sorted(LAUNCH.rglob("*.sh")):
        out.append("\n".join(_fixture_lines(p)))
    out += ["vllm serve deepseek-ai/DeepSeek-V4-Flash -tp 8 --max-model-len 131072 --max-num-batchd-tokens 8192",
            "python3 -m sglang.launch_server --model-path deepseek-ai/DeepSeek-V4-Flash --tp 8 --mem-fraction-static 0.9",
            "llama-server -m /models/DeepSeek-V4-Flash-Q4_K_M.gguf -c 32768 -ngl 99 --port 8080",
            "docker run --gpus all --ipc=host -p 8000:8000 vllm/vllm-openai:v0.20.0 deepseek-ai/DeepSeek-V4-Flash -tp 8",
            "ollama run deepseek-v4-flash"]
    return [c for c in out if c.strip()]


def compose_corpus() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(LAUNCH.rglob("*.y*ml"))]


# --------------------------------------------------------------------------- targets
def _timed(counts: Counts, what: str, fn: Callable[[], None]) -> None:
    t = time.perf_counter()
    try:
        fn()
    except _Fail as f:
        counts.note(f.kind, f"{f.what} | {what}")
    except Exception as exc:  # noqa: BLE001 - a crash is what we count
        counts.note("crashes", f"{type(exc).__name__}: {exc} | {what}")
    if time.perf_counter() - t > HANG_S[counts.target]:
        counts.note("hangs", f"{time.perf_counter() - t:.1f} s | {what}")


class _Fail(Exception):
    def __init__(self, kind: str, what: str):
        super().__init__(what)
        self.kind, self.what = kind, what


def fuzz_logs(rng: random.Random, counts: Counts, corpus=None) -> None:
    from v4doctor.logs import diagnose_text
    from v4doctor.output import diagnosis as out_diag, markdown as out_md
    from v4doctor.output.render import to_json

    corpus = corpus or log_corpus()
    lines = list(rng.choice(corpus))
    if rng.random() < 0.3:
        lines += list(rng.choice(corpus))
    secrets: list[str] = []
    for _ in range(rng.randint(0, 6)):
        if lines:
            i = rng.randrange(len(lines))
            lines[i] = _mutate_line(rng, lines[i])
    for _ in range(rng.randint(1, 3)):
        _plant(rng, lines, secrets)
    if rng.random() < 0.05:
        lines = [" ".join(lines)]  # one long line
    text = "\n".join(lines)

    def case():
        data = diagnose_text(text).to_dict()
        js = to_json(data)
        if not _strict(js):
            raise _Fail("nonstrict", js[:200])
        shown = json.loads(js)
        out = js + "\n".join(t for t, _ in out_diag.terminal_lines(shown, verbose=True)) + out_md.diagnosis(shown)
        leak = _leaked(out, secrets)
        if leak:
            i = max(out.find(leak[:12]), out.find(leak[-12:]))
            raise _Fail("leaks", f"{leak} in {out[max(0, i - 120):i + 60]!r}")

    _timed(counts, text[:200], case)


def _mutate_command(rng: random.Random, cmd: str, secrets: list[str]) -> str:
    words = cmd.split(" ")
    for _ in range(rng.randint(0, 4)):
        if not words:
            break
        i = rng.randrange(len(words))
        w = words[i]
        op = rng.randrange(6)
        if op == 0 and w.startswith("--") and len(w) > 4:  # a typo in a flag
            j = rng.randrange(2, len(w))
            words[i] = w[:j] + w[j + 1:] if rng.random() < 0.5 else w[:j] + rng.choice(string.ascii_lowercase) + w[j:]
        elif op == 1:
            del words[i]
        elif op == 2:
            words[i] = _mutate_line(rng, w)
        elif op == 3:
            words.insert(i, rng.choice(["--max-num-batchd-tokens", "--tensor-parallel", "-tp", "--max-model-len", "--gpu-memory-utilization",
                                        "--kv-cache-dtype", "fp8", "--enable-expert-paralel", "--shm-size", "\\\n  "]))
        elif op == 4:
            words.append(rng.choice(_WEIRD_NUMBERS))
    words = words or ["vllm", "serve"]
    if rng.random() < 0.7:
        text, core = _secret(rng)
        secrets.append(core)
        at = rng.randrange(1, len(words) + 1)
        words[at:at] = [text] if rng.random() < 0.8 else [rng.choice(["\\\n ", "--port"]), text]
    return " ".join(words)


def _check_fix(counts: Counts, text: str, kind: str, secrets: list[str]) -> None:
    from v4doctor.errors import UsageError
    from v4doctor.launch import parse_compose
    from v4doctor.launch.snippet import parse_text
    from v4doctor.output.render import to_json
    from v4doctor.repair.propose import propose

    def case():
        try:
            result = propose(text, kind)
        except UsageError:
            return
        js = to_json({"schema_version": 1, **result.to_dict()})
        if not _strict(js):
            raise _Fail("nonstrict", js[:200])
        out = js + result.diff + result.shown(result.after) + "".join(result.shown(f.title + (f.fix.text if f.fix else "")) for f in result.findings)
        leak = _leaked(out, secrets)
        if leak:
            raise _Fail("leaks", leak)
        if result.changed:
            try:
                parse_compose(result.after) if kind == "compose" else parse_text(result.after)
            except UsageError as exc:
                raise _Fail("reparse", f"{exc}: {result.after[-200:]}") from None
            again = propose(result.after, kind)
            if again.changed and again.after != result.after:
                raise _Fail("second_fix", again.diff[:300])

    _timed(counts, text[:300], case)


def fuzz_commands(rng: random.Random, counts: Counts, corpus=None) -> None:
    corpus = corpus or command_corpus()
    secrets: list[str] = []
    _check_fix(counts, _mutate_command(rng, rng.choice(corpus), secrets), "cmd", secrets)


def fuzz_compose(rng: random.Random, counts: Counts, corpus=None) -> None:
    corpus = corpus or compose_corpus()
    lines = rng.choice(corpus).splitlines()
    secrets: list[str] = []
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(lines))
        lines[i] = _mutate_line(rng, lines[i]) if rng.random() < 0.5 else lines[i]
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(26))
    secrets.append(body)
    where = rng.randrange(4)
    extra = {0: f"      HF_TOKEN: {body}", 1: f"      - HF_TOKEN={body}", 2: f'      - "--api-key"\n      - "{body}"', 3: f"      - --api-key={body}"}[where]
    for i, line in enumerate(lines):
        if line.strip() in ("environment:", "command:") or line.strip().startswith("command: ["):
            lines.insert(i + 1, extra)
            break
    if rng.random() < 0.1:  # anchors and aliases, some of them bombs
        depth = rng.randint(1, 8)
        lines = [f"x-a0: &a0 [{', '.join(['lol'] * 9)}]"] + [f"x-a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, depth)] + lines
    _check_fix(counts, "\n".join(lines) + "\n", "compose", secrets)


def _real_gguf() -> bytes:
    """A small GGUF written by the gguf library: architecture keys, a 300-token vocabulary, three tensors."""
    import numpy as np
    from gguf import GGUFWriter

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.gguf"
        w = GGUFWriter(str(path), "deepseek2")
        w.add_block_count(2)
        w.add_context_length(4096)
        w.add_token_list([f"tok{i}" for i in range(300)])
        w.add_token_scores([0.0] * 300)
        w.add_string("general.name", "fuzz")
        for name, shape in (("token_embd.weight", (8, 16)), ("blk.0.attn_q.weight", (16, 16)), ("output.weight", (16, 8))):
            w.add_tensor(name, np.zeros(shape, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path.read_bytes()


def fuzz_gguf(rng: random.Random, counts: Counts, corpus=None) -> None:
    from v4doctor.weights.describe import describe_file
    from v4doctor.weights.header import GGUFError, read_header

    data = bytearray(corpus or _real_gguf())
    head = min(len(data), 6000)
    for _ in range(rng.randint(1, 8)):
        if len(data) < 32:
            break
        op, i = rng.randrange(4), rng.randrange(4, min(head, len(data)))
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1 and i + 8 <= len(data):
            data[i:i + 8] = struct.pack("<Q", rng.choice([0, 1, 2**32, 2**63, 2**64 - 1, rng.randrange(2**64), rng.randrange(1 << 20)]))
        elif op == 2 and i + 4 <= len(data):
            data[i:i + 4] = struct.pack("<I", rng.choice([0, 8, 9, 12, 13, 2**32 - 1, rng.randrange(64)]))
        else:
            del data[rng.randrange(24, len(data)):]
    sparse = rng.random() < 0.1
    with tempfile.NamedTemporaryFile(suffix=".gguf") as fh:
        fh.write(data)
        if sparse:
            fh.truncate(rng.choice([1 << 30, 8 << 30]))
        fh.flush()

        def case():
            try:
                describe_file(read_header(fh.name))
            except GGUFError:
                return

        _timed(counts, f"{len(data)} bytes{' sparse' if sparse else ''}", case)


_CLIENT = None


def fuzz_api(rng: random.Random, counts: Counts, corpus=None) -> None:
    global _CLIENT
    if _CLIENT is None:
        from starlette.testclient import TestClient

        from v4doctor.server.app import Settings, create_app

        _CLIENT = TestClient(create_app(Settings(timeout_s=10)), raise_server_exceptions=False)
    secrets: list[str] = []
    pick = rng.randrange(6)
    if pick == 0:
        lines = list(rng.choice(log_corpus()))
        _plant(rng, lines, secrets)
        path, body = "/v1/diagnose", {"text": "\n".join(_mutate_line(rng, l) for l in lines)}
    elif pick == 1:
        path, body = "/v1/fix", {"text": _mutate_command(rng, rng.choice(command_corpus()), secrets)}
    elif pick == 2:
        path, body = "/v1/check", {"cmd": _mutate_command(rng, rng.choice(command_corpus()), secrets)}
    elif pick == 3:
        path, body = "/v1/fix", {"text": rng.choice(compose_corpus()), "kind": rng.choice(["compose", "cmd", None])}
    elif pick == 4:
        path, body = rng.choice(["/v1/diagnose", "/v1/fix", "/v1/check"]), rng.choice([{}, {"text": ""}, [], None, {"text": 5}, {"snapshot": {"gpu": "x"}}, {"cmd": ""}])
    else:
        path, body = "/v1/check", {"compose": rng.choice(compose_corpus()), "model": rng.choice(["flash", "pro", "x" * 300, None])}

    def case():
        r = _CLIENT.post(path, content=json.dumps(body))
        if r.status_code >= 500 and r.status_code != 504:
            raise _Fail("crashes", f"{r.status_code} {r.text[:200]}")
        if r.headers.get("content-type", "").startswith("application/json") and not _strict(r.text):
            raise _Fail("nonstrict", r.text[:200])
        leak = _leaked(r.text, secrets)
        if leak:
            raise _Fail("leaks", leak)

    _timed(counts, f"{path} {json.dumps(body)[:200]}", case)


TARGETS: dict[str, Callable] = {"logs": fuzz_logs, "commands": fuzz_commands, "compose": fuzz_compose, "gguf": fuzz_gguf, "api": fuzz_api}
_CORPUS = {"logs": log_corpus, "commands": command_corpus, "compose": compose_corpus, "gguf": _real_gguf, "api": lambda: None}


def run(target: str, cases: int, seed: int, budget_s: float | None = None) -> Counts:
    """Up to `cases` cases of one target (fewer when `budget_s` runs out first)."""
    rng, counts = random.Random(f"{seed}:{target}"), Counts(target)
    corpus = _CORPUS[target]()
    start = time.perf_counter()
    for _ in range(cases):
        if budget_s is not None and time.perf_counter() - start > budget_s:
            break
        TARGETS[target](rng, counts, corpus)
        counts.cases += 1
    counts.seconds = time.perf_counter() - start
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", choices=sorted(TARGETS), action="append", help="(repeatable; default: all)")
    ap.add_argument("--cases", type=int, help="cases per target (default: 1e5 logs, 1e4 commands/compose/gguf, 2e3 api)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--budget", type=float, help="seconds per target at most")
    args = ap.parse_args()
    total = 0
    for target in args.target or list(TARGETS):
        counts = run(target, args.cases or LONG[target], args.seed, args.budget)
        print(counts.line(), flush=True)
        for e in counts.examples:
            print("   ", e)
        total += counts.failures
    return 1 if total else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
