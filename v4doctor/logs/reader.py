"""Reading a log in bounded pieces: whole-line chunks, long lines cut, bad bytes replaced, ANSI and prefixes stripped.

Memory stays constant: at most one chunk (about 1 MiB) plus one cut line is held. Chunks stay bytes:
only the lines the prefilter hits are decoded (bad UTF-8 replaced).
"""

from __future__ import annotations

import re
from typing import BinaryIO, Iterable, Iterator

from v4doctor.output.redact import redact_text

CHUNK_BYTES = 1 << 18
MAX_LINE = 16_384  # bytes kept of one line; the rest of a longer line is dropped
EVIDENCE_CHARS = 400

# An OSC (`ESC ] … BEL`) ends at BEL, ESC \ or the line's end: `[^\x07]*` alone made 1 MiB of
# unended `ESC ] x` lines quadratic (each scanned to the end of the chunk).
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|\r")
ANSI_BYTES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)?")
# One prefix at the start of a line; stripped repeatedly (a compose prefix, then vLLM's, then a rank).
_PREFIX = re.compile(
    r"""^(?:
        [A-Za-z0-9][\w.-]*\s*\|\s                                  # docker compose: "vllm-1  | "
      | \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+  # docker logs --timestamps
      | \([A-Za-z_][\w]*(?:\s+rank=\d+)?\s+pid=\d+\)\s*             # (APIServer pid=1) (VllmWorker rank=5 pid=3)
      | \[rank\d+\]:\s*                                            # torch: [rank3]:
      | \d+\.\d\d\.\d{3}\.\d{3}\s[IWEDT]\s                           # llama.cpp: "0.00.998.066 I "
      | (?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\s+\d\d-\d\d\s\d\d:\d\d:\d\d(?:\.\d+)?\s+(?:\[[^\]\s]+\]\s*|[\w.]+:\d+\]\s*)?  # vLLM
      | \[\d{4}-\d\d-\d\d\s\d\d:\d\d:\d\d(?:[.,]\d+)?(?:\s[^\]]*)?\]\s*  # SGLang: [2026-05-01 10:11:12 TP0]
    )""",
    re.X,
)


def clean_line(line: str) -> str:
    """The message of one log line. Sample: `(APIServer pid=1) INFO 04-24 10:11:12 [api.py:9] msg` -> `msg`."""
    line = ANSI.sub("", line).rstrip("\n")
    for _ in range(6):
        stripped = _PREFIX.sub("", line, count=1)
        if stripped == line:
            break
        line = stripped
    return line.strip()


def evidence_text(line: str) -> str:
    """A line as shown in evidence: colour codes gone, secrets masked (before the cut, so no half token
    escapes the patterns), cut to a readable length."""
    line = redact_text(ANSI.sub("", line).rstrip("\n").strip())
    return line if len(line) <= EVIDENCE_CHARS else line[:EVIDENCE_CHARS] + " …"


def chunks_from_lines(lines: Iterable[str]) -> Iterator[bytes]:
    """Group lines (with or without their newline) into ~1 MiB UTF-8 chunks of whole lines, each line cut to MAX_LINE."""
    buf: list[str] = []
    size = 0
    for line in lines:
        line = line[:MAX_LINE].rstrip("\n") + "\n"
        buf.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(buf).encode("utf-8", "replace")
            buf, size = [], 0
    if buf:
        yield "".join(buf).encode("utf-8", "replace")


def chunks_from_binary(fh: BinaryIO, read_size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Read a byte stream in chunks that end on a newline; a line longer than MAX_LINE is cut there (the
    rest of it skipped), so memory stays bounded whatever the input. Decoding is left to the hit lines."""
    carry = b""
    skipping = False  # inside a line already cut: drop bytes until its newline
    while True:
        raw = fh.read(read_size)
        if skipping:
            nl = raw.find(b"\n")
            if nl < 0:
                if not raw:
                    break
                continue
            raw, skipping = raw[nl + 1:], False
        data = carry + raw
        end = data.rfind(b"\n") + 1
        body, carry = data[:end], data[end:]
        if len(carry) > MAX_LINE:
            body, carry, skipping = body + carry[:MAX_LINE] + b"\n", b"", True
        if body:
            yield body
        if not raw:
            break
    if carry:
        yield carry[:MAX_LINE] + b"\n"
