"""Normalised lines for the tiers after the exact signatures: the log's two ends (and its kept failure
lines) unwrapped from JSON envelopes and logfmt, stripped of prefixes, whitespace collapsed, with the
failure lines and the last Python exception (with its frames) picked out.

Evidence keeps the raw line; matching runs on `Line.norm` (lower case) or `Line.text` (case kept).
Sample: `{"level":"error","msg":"CUDA  out of memory"}` -> text `CUDA out of memory`.
"""

from __future__ import annotations

import bisect
import functools
import html
import json
import re
from dataclasses import dataclass, field

from v4doctor.logs.reader import ANSI, clean_line
from v4doctor.logs.scan import NOT_AN_ERROR_LEVEL

_WS = re.compile(r"\s+")
MAX_TEXT = 2000  # characters of a message the tiers match (a regex like `\w+ at` is quadratic on a 16 KiB run)
_ENVELOPE_KEYS = ("message", "msg", "log", "MESSAGE", "text", "error", "err")
_LOGFMT_MSG = re.compile(r'''(?:^|\s)(?:msg|message|error|err)=(?:"((?:[^"\\]|\\.)*)"|(\S+))''')
_LOGFMT_LEVEL = re.compile(r"(?:^|\s)level=(\w+)")
# More line prefixes than the scanner strips: Python logging (`2024-05-01 10:11:12,123 - name - ERROR - `),
# timestamps of every common shape, Kubernetes/gpustack wrappers, syslog, bracketed levels.
_MORE_PREFIX = re.compile(
    r"""^(?:
        \d{4}[-/]\d\d[-/]\d\d[T\s]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|\s?[+-]\d\d:?\d\d|\s?UTC)?[\s|:-]+
      | \d\d:\d\d:\d\d(?:[.,]\d+)?\s+
      | [A-Z][a-z]{2}\s+\d{1,2}\s\d\d:\d\d:\d\d\s+(?:\S+\s+)?
      | \[(?:pod|container|node)/[^\]]*\]\s*
      | (?:\S+\s+)?-\s(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s-\s
      | \[?(?:DEBUG|INFO|WARNING|WARN|ERROR|ERR|CRITICAL|FATAL|TRACE)\]?[\s:]+(?:\[[^\]]*\]\s*)?
      | [IWEF]\d{4}\s\d\d:\d\d:\d\d(?:\.\d+)?\s+\d+\s\S+:\d+\]\s
      | \(\w+(?:\s\w+=\d+)+\)\s*
    )""",
    re.X,
)
_QUIET = re.compile(r"^(?:\[rank\d+\]:)?\[?[IWD]\d{4} \d\d:\d\d:\d\d\.\d+\s|^\[?(?:INFO|WARNING|WARN|DEBUG|NOTICE)\b|^(?:\[[^\]]{0,40}\]\s*){0,3}\[(?:INFO|WARNING|WARN|DEBUG|I|W|D)\]|^(?:\S+\s+){1,4}(?-i:INFO|WARNING|WARN|DEBUG)\s|\s-\s(?:INFO|WARNING|DEBUG)\s-\s|\blevel=(?:info|warn|warning|debug)\b", re.I)
# A failure line in any engine's wording: exceptions, a traceback, `error:`, `ERR`, `E `, `failed to`,
# `fatal`, panics, crashes, errno names (POSIX and Windows) and non-zero exits.
FAILURE = re.compile(
    r"traceback \(most recent call last\)|\b[a-z_.]*(?:error|exception)\b\s*[:(!]|\b[a-z]+error$|^error\b|"
    r"\berr(?:or)?\s*[:=\]]|\berror\b(?!s)|^e\s|\bfailed\b(?!\s*[=:]\s*0)|\brequires more\b|\bexceeds?\b.*\bavailable\b|\bno longer allowed\b|\btoo old\b|\bis insufficient\b|\bfatal\b|\bpanic(?:ked)?\b|segmentation fault|core dumped|"
    r"^aborted|\bout of memory\b|outof(?:device)?memory|floating point exception|\bincompatible (?:device|gpu|driver|version)\b|\boom\b|\berrno\b|\be(?:nospc|addrinuse|acces|perm|noent|nomem|io|connrefused|connreset|timedout|hostunreach|netunreach|pipe|busy|inval|again|rofs|mfile|nfile|nodev|nxio|fault|notconn|proto|dquot)\b|cuda error|hip error|no space left|"
    r"address already in use|permission denied|exit(?:ed)?(?: with)? (?:status|code) [1-9-]|\bkilled\b|"
    r"\bwinerror\b|\bwsae[a-z]+\b|\berror_[a-z_]+\b|(?:^|\s)err\s|\bnot (?:supported|divisible|found|enough|aligned)\b|\bcannot\b|\bcould not\b|\bunable to\b|"
    r"\bassert(?:ion)?\b.*\bfail|\btimed? ?out\b(?![=:]\s*\d)|\brefused\b|\bforbidden\b|\bunauthori[sz]ed\b|\b[45]\d\d\b.*\b(?:client|server) error\b",
)


def fast(pattern: re.Pattern):
    """The same pattern for RE2 (a DFA: one pass, no backtracking) with its lookaheads dropped, so it matches a
    superset: `FAILURE` confirms only the lines it finds. None without google-re2."""
    from v4doctor.logs.prefilter import re2_module

    re2 = re2_module()
    if re2 is None:
        return None
    try:
        text = re.sub(r"\(\?!(?:[^()]|\([^()]*\))*\)", "", pattern.pattern)
        return re2.compile(("(?i)" if pattern.flags & re.I else "") + text)
    except Exception:
        return None


_FAILURE_FAST = fast(FAILURE)


@functools.lru_cache(maxsize=256)
def _bytes_pattern(pattern: re.Pattern):
    """`pattern` for a UTF-8 text: RE2 (lookaheads dropped) where installed, else the stdlib on bytes."""
    from v4doctor.logs.prefilter import re2_module

    text = pattern.pattern
    re2 = re2_module()
    if re2 is not None:
        try:
            lean = re.sub(r"\(\?!(?:[^()]|\([^()]*\))*\)", "", text)
            return re2.compile((("(?i)" if pattern.flags & re.I else "") + lean).encode())
        except Exception:
            pass
    return re.compile(text.encode(), pattern.flags & re.I)


def _blob_matches(pattern: re.Pattern, blob: bytes):
    return (m.start() for m in _bytes_pattern(pattern).finditer(blob))


def is_failure(norm: str) -> bool:
    """A normalised, lower-case line reads as a failure (RE2 first where installed, `FAILURE` decides)."""
    if _FAILURE_FAST is not None and not _FAILURE_FAST.search(norm):
        return False
    return bool(FAILURE.search(norm))


# A Python warning (`…/x.py:46: UserWarning: …`) or a traceback's source line (`raise ValueError(`): no failure line
_PY_WARNING = re.compile(r"\b(?:User|Future|Deprecation|Runtime|Resource|Pending\w*|Syntax|Import|Unicode|Bytes)Warning:|^\s*raise\s+[\w.]+\(|^\s*warnings\.warn(?:_explicit)?\(")
_FRAME = re.compile(r'^File "(?P<path>[^"]+)", line \d+')
_EXCEPTION = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Fault|Failure)|[a-z_]+(?:\.[a-z_]+)+\.[A-Z]\w+)(?::|$)")


# A line that only reports that something failed, not why (the cause is above it, or not in the log).
WRAPPER = re.compile(
    r"failed to load (?:the )?model|error loading model\.?$|engine core initiali[sz]ation failed|see root cause above|"
    r"worker ?(?:proc(?:ess)?)? (?:returned|failed|died)|executor worker returned error|downloaderror|download encountered an error|"
    r"received sigquit|child process|exit(?:ed)? (?:with )?(?:status|code)|process has terminated|could not (?:load|start|create) "
    r"(?:the )?(?:model|backend)|rpc error|^traceback \(most recent call last\)|^the above exception|^during handling|"
    r"unhandled exception|^aborted|core dumped|segmentation fault|^error:?$|failed to initiali[sz]e|initiali[sz]ation failed|"
    r"failed to start|loading failed|is at unavailable state|non-zero exit|returned non-zero|crashed container|"
    r"container (?:crashed|exited)|crashloopbackoff"
)


# Its logger tagged it ERROR/FATAL/CRITICAL (`ERROR: …`, `[E]`, `[TRT] [E]`, `- ERROR -`, `level=error`, vLLM's and
# Ray's process prefix first: `(EngineCore_DP0 pid=7) ERROR …`, `(RayWorkerWrapper pid=9, ip=10.0.0.2) ERROR …`): a failure
# line whatever its words, once the prefix that said so is stripped (`ERROR: FP8 models require a GPU with …`).
_LOUD = re.compile(r"^\W{0,3}(?:\([\w .,:=-]{1,80}\)\s+)?(?:ERROR|ERR|FATAL|CRITICAL)\b\]?[\s:]|\[(?:E|ERROR|FATAL|CRITICAL)\]\s|\s-\s(?:ERROR|CRITICAL|FATAL)\s-\s|\blevel=(?:error|fatal|crit\w*)\b")


@dataclass
class Line:
    number: int
    raw: str
    text: str  # the message, prefixes and envelopes removed, whitespace collapsed
    norm: str  # text in lower case
    quiet: bool = False  # its logger tagged it INFO/WARNING/DEBUG
    loud: bool = False  # its logger tagged it ERROR/FATAL/CRITICAL


@dataclass
class Window:
    """What the tiers read: normalised lines, which are failures, and the last exception with its frames."""

    lines: list[Line]
    failures: list[Line] = field(default_factory=list)
    exception: Line | None = None
    frames: list[str] = field(default_factory=list)  # module paths of the last traceback, lower case
    frame_lines: list[Line] = field(default_factory=list)  # the lines that name them
    _joined: tuple[bytes, list[int]] | None = None

    def joined(self) -> tuple[bytes, list[int]]:
        """The normalised lines (lower case) as one UTF-8 text, one line each, and each line's byte offset in it:
        a rule searched over this once (RE2 where installed) finds the few lines worth a closer look."""
        if self._joined is None:
            parts, starts, at = [], [], 0
            for line in self.lines:
                data = line.norm.encode("utf-8", "surrogatepass") + b"\n"
                starts.append(at)
                parts.append(data)
                at += len(data)
            self._joined = (b"".join(parts), starts)
        return self._joined

    def lines_matching(self, pattern: re.Pattern) -> list[Line]:
        """The lines on which `pattern` (over lower-case text, no `^`/`$`) may match, each once, in order: a
        superset when RE2 drops the pattern's lookaheads, so callers confirm with the pattern itself."""
        blob, starts = self.joined()
        out: list[Line] = []
        for start in _blob_matches(pattern, blob):
            line = self.lines[bisect.bisect_right(starts, start) - 1]
            if not out or out[-1] is not line:
                out.append(line)
        return out


def unwrap(raw: str) -> tuple[list[str], str | None]:
    """A raw line's messages (a JSON or logfmt envelope opened, embedded newlines split) and its level."""
    line = ANSI.sub("", raw).strip()
    if line.startswith("{") and line.endswith("}"):
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            level = next((str(doc[k]) for k in ("level", "levelname", "severity", "lvl") if k in doc), None)
            fields = doc.get("fields") if isinstance(doc.get("fields"), dict) else {}
            message = next((doc[k] for k in _ENVELOPE_KEYS if isinstance(doc.get(k), str)), None)
            message = message or next((fields[k] for k in _ENVELOPE_KEYS if isinstance(fields.get(k), str)), None)
            if message is not None:
                return message.splitlines() or [""], level
    if "=" in line and ("msg=" in line or "level=" in line):
        level = _LOGFMT_LEVEL.search(line)
        m = _LOGFMT_MSG.search(line)
        if m:
            text = m.group(1) if m.group(1) is not None else m.group(2)
            text = text.replace('\\"', '"').replace("\\n", "\n")
            rest = [x for x in _LOGFMT_MSG.findall(line[m.end():])]
            extra = " ".join(a or b for a, b in rest)
            return (text + (" " + extra if extra else "")).splitlines() or [""], level.group(1) if level else None
    if "\\n" in line and len(line) > 40 and ("Traceback" in line or "Error" in line):
        return line.split("\\n"), None
    return [line], None


_HTML_ENTITY = re.compile(r"&(?:quot|lt|gt|amp|apos|#\d{2,4}|#x[0-9a-fA-F]{2,4});")


def message(text: str) -> str:
    """The message of one line: HTML entities of a log copied from a web page decoded (`File &quot;…&quot;`), the
    scanner's prefixes, then the wider set, stripped; whitespace collapsed."""
    if "&" in text and _HTML_ENTITY.search(text):
        text = html.unescape(text)
    text = clean_line(text)
    for _ in range(4):
        stripped = _MORE_PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = clean_line(stripped)
    return _WS.sub(" ", text).strip()


def normalise(numbered: list[tuple[int, str]]) -> Window:
    """Normalise numbered raw lines (sorted, one per number) into a Window."""
    lines: list[Line] = []
    pending = ""
    for number, raw in numbered:
        if raw.rstrip().endswith(("\\", " ^", " `")) and len(pending) < 8192:  # a continued command (sh, cmd, PowerShell)
            pending += raw.rstrip()[:-1] + " "
            continue
        raw_full, pending = pending + raw, ""
        parts, level = unwrap(raw_full)
        quiet = _is_quiet(raw_full, level)
        loud = not quiet and (level.lower() in ("error", "fatal", "critical", "err") if level is not None
                              else bool(_LOUD.search(ANSI.sub("", raw_full)[:120])))
        for part in parts:
            text = message(part[:MAX_TEXT])
            if text:
                lines.append(Line(number, raw_full, text, text.lower(), quiet, loud))
    return _mark(Window(lines))


# A line that calls itself a warning: a function-name prefix then the level (`warmup: WARNING: …`), or a
# sentence that says how to silence it (SGLang's untagged `… To silence this warning, specify …`).
_SELF_WARNING = re.compile(r"^(?:[\w.]+:\s+)?\*?(?:WARNING|WARN|NOTE|INFO)\b|\b(?:silence|suppress|disable|avoid|ignore) this warning\b", re.I)


# Lines printed at error level that stop nothing: TensorFlow/JAX registering a CUDA library factory twice when torch
# is imported beside them; a client's request the server rejected for its malformed body.
_KNOWN_NOISE = re.compile(r"unable to register cu(?:dnn|fft|blas) factory: attempting to register factory for plugin|"
                          # a client's malformed request body and a wrong route (LM Studio: `Received request for /api/v1/chat
                          # with invalid JSON`, `Unexpected endpoint or method. (GET /). Returning 200 anyway`; lmstudio-bug-tracker#1879)
                          r"received request for \S+ with invalid json|unexpected endpoint or method\. \(\w+ \S+\)\. returning 200 anyway",
                          re.I)


def _is_quiet(raw: str, level: str | None) -> bool:
    """Its logger tagged it INFO/WARNING/DEBUG (glog's `I`/`W`/`D` too), it calls itself a warning, it is known
    noise, or it is a `# ` comment added to the paste."""
    if raw.startswith("# ") or _PY_WARNING.search(raw[:300]) or _SELF_WARNING.search(ANSI.sub("", raw).strip()[:600]):
        return True
    if ("factory" in raw or "invalid JSON" in raw or "200 anyway" in raw) and _KNOWN_NOISE.search(raw):
        return True
    if level is not None:
        return level.lower() in ("info", "warning", "warn", "debug", "notice", "trace")
    return bool(NOT_AN_ERROR_LEVEL.search(raw) or _QUIET.search(ANSI.sub("", raw).strip()[:80]))


# The engine (or the user) recovered from what came before: a consent prompt answered yes, a retry with a
# smaller plan, a fallback. What failed before it, with the log going on and failing no more, did not stop the deploy.
RECOVERED = re.compile(
    r"\[y/n\]\s*y(?:es)?\s*$|retrying without\b|retrying with (?:a )?(?:smaller|fewer|less|lower|reduced)\b|"
    r"falling back to\b|fall(?:ing)? ?back (?:to|on)\b"
)


def recovery(window: Window) -> Line | None:
    """The last recovery line when no failure line follows it and the log goes on after it (a consent answered
    yes may end the log), else None."""
    found = [ln for ln in window.lines_matching(RECOVERED) if RECOVERED.search(ln.norm)]
    if not found:
        return None
    at = found[-1]
    if any(ln.number > at.number for ln in window.failures):
        return None
    before = [ln.number for ln in window.failures if ln.number < at.number]
    if before and at.number - max(before) > 4:
        return None  # a fallback far from the failure recovers from something else
    if "[y/n]" in at.norm or any(ln.number > at.number for ln in window.lines):
        return at
    return None


_BARE_LEVEL = re.compile(r"^\[?(?:error|err|fatal|critical)\]?:?$")


def _mark(window: Window) -> Window:
    """Pick the failure lines and the last traceback's exception and frames."""
    last_tb = None
    carry = False  # a bare level tag (`2026-05-04 14:06:10 [ERROR]`, LM Studio) heads the message on the next line
    for i, line in enumerate(window.lines):
        if line.norm.startswith("traceback (most recent call last)"):
            last_tb = i
        if _BARE_LEVEL.match(line.norm):
            carry = not line.quiet
            continue
        if carry and not line.quiet:
            window.failures.append(line)
        elif not line.quiet and (line.loud or is_failure(line.norm)):
            window.failures.append(line)
        carry = False
    if last_tb is None and any(_FRAME.match(line.text) for line in window.lines[:400]):
        last_tb = -1  # an excerpt that starts inside a traceback: its frames still count
    if last_tb is not None:
        frames, exception = [], None
        for line in window.lines[last_tb + 1:last_tb + 400]:
            m = _FRAME.match(line.text)
            if m:
                frames.append(m["path"].replace("\\", "/").lower())
                window.frame_lines.append(line)
                continue
            e = _EXCEPTION.match(line.text)
            if e and frames:
                exception = line
            if line.norm.startswith("traceback (most recent call last)"):
                break
        window.frames, window.exception = frames, exception
        if exception is not None and exception not in window.failures:
            window.failures.append(exception)
    at = recovery(window) if window.failures else None
    if at is not None:  # what the engine recovered from is no failure (its exception and frames neither)
        window.failures = [ln for ln in window.failures if ln.number > at.number]
        if window.exception is not None and window.exception.number < at.number:
            window.exception, window.frames, window.frame_lines = None, [], []
    return window
