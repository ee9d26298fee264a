"""Output quality: the model answers, but is its text garbage? Any engine, any format.

Output text is what follows a `>>>` prompt, `Output:`/`Response:`/`Generated text:`, an assistant turn,
or a JSON `"content"`/`"text"` value (curl responses). It reads as garbage when one character or word
fills it, an n-gram repeats over most of it, special tokens leak into it, or it is word salad (few
real words, scripts mixed). The engines' own warnings that quality will suffer count too (llama.cpp's
missing pre-tokenizer). Sample: `>>> hi` then `<<<<<<<<<<<<<<<<` -> gguf_gibberish_quality.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter

from v4doctor.logs.diagnosis import Item
from v4doctor.logs.normalise import Window
from v4doctor.logs.reader import evidence_text

_OUTPUT = re.compile(
    r"^(?:>>>\s*\S.*|(?:prompt\s*:.{0,2000}?,\s*)?[*_\[\s]*(?:output|response|generated text|generated|answer|completion|assistant|bot|ai|"
    r"chatbot|llm)[\]*_\s]*[:>][*_\s]*(?P<text>.+))$", re.I  # vLLM's examples print `Prompt: '…', Generated text: '…'` on one
    # line; chat UIs and bindings print the reply after `**[bot]:**`, `AI:`, `Assistant:`
)
_JSON_TEXT = re.compile(r'"(?:content|text|response|generated_text)"\s*:\s*"(?P<text>(?:[^"\\]|\\.){8,})"')
# A special token's shape: `<|eot_id|>`, and DeepSeek's full-width `<｜Assistant｜>`.
_TOKEN = r"<\|[^|<>\s]{1,40}\|>|<｜[^｜]{1,40}｜>"
_SPECIAL = re.compile(_TOKEN + r"|\[PAD\d*\]|<unk>|<pad>|<\|endoftext\|>|<s>|</s>")
_WARNINGS = re.compile(
    r"generation quality will be degraded|missing or unrecognized pre-tokenizer|missing pre-tokenizer|"
    r"output quality (?:may|will) (?:suffer|degrade|be (?:degraded|affected|worse))|may produce (?:garbage|gibberish)|"
    r"token repeat limit reached",
    re.I,
)
_WARNING_HINTS = ("degrad", "pre-tokenizer", "quality", "garbage", "gibberish", "repeat limit")
_WORD = re.compile(r"[^\W\d_]+", re.U)
# One unit repeated 8+ times (`ISIS-ISIS-…`, `OfOfOf…`, `SSSS…`, `⁇ ⁇ ⁇`, `@@@@`): a unit with a letter, or a
# symbol no log uses as a ruler; long digit runs only (not `0x0000…` addresses).
_REPEAT = re.compile(r"((?=[^\s=\-_*#.~^+|/\\<>─━│┃┌┐└┘├┤┬┴┼█▄▀░▒▓:,;'\"`()\[\]{}]{1,8})\S{1,8}?)(?:[-\s]?\1){7,}")
_LEAK = re.compile(r"<\|(?:im_end|im_start|endoftext|eot_id|end|assistant|system|user|end_of_text|begin_of_text)\|>|"
                   r"(?<![<\w])\|(?:assistant|user|system)\|(?!>)|\[PAD\]|<fim_(?:prefix|suffix|middle)>|\u2047|<unk>")
# One word four times or more in a row (`a rabbit named named named named`): prose does not stutter like that.
_WORD_RUN = re.compile(r"\b([^\W\d_]{2,})(?:[\s,]+\1\b){3,}", re.I)
# A unit of two to eight letters repeated twelve times or more (`HelloHowToToToToTo…`), on any line.
_LONG_RUN = re.compile(r"((?=[^\W\d_]{2,8})[^\W\d_]{2,8}?)(?:[\s-]?\1){11,}")
_MOJIBAKE = re.compile(r"(?:[ÃÂÐÑÎÏ][\u0080-\u00bf\u2018-\u203a\u0152-\u0178\u20ac]){3,}")


def outputs(win: Window) -> list[tuple[int, str, str]]:
    """(line, raw, text) of every output text the log shows."""
    out = []
    prompt_at = None
    for i, line in enumerate(win.lines):
        text = None
        if line.text.startswith(">>>"):
            prompt_at = i
            continue
        if prompt_at is not None and i == prompt_at + 1 and not line.text.startswith(("Traceback", "Error")):
            text = line.text
        m = _JSON_TEXT.search(line.raw)
        if m:
            try:
                text = json.loads(f'"{m["text"]}"')
            except ValueError:
                text = m["text"]
        else:
            m = _OUTPUT.match(line.text)
            if m and m.group("text"):
                text = m.group("text")
        if text:
            out.append((line.number, line.raw, text))
    return out


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ")[0] if name else "?"


def _in_hex(text: str, at: int) -> bool:
    start = max(text.rfind(" ", 0, at), text.rfind("\t", 0, at)) + 1
    return text[start:start + 2].lower() == "0x"


def garbage(text: str, output: bool = False) -> str | None:
    """Why a text reads as garbage, or None when it reads as text (short texts are not judged). `output`: the
    text is known to be the model's reply, so one character filling it counts whatever it is (`<<<<<<`)."""
    chars = "".join(text.split())
    if len(chars) < 12:
        return None
    m = _REPEAT.search(text)
    if m and m.group(1).isdigit() and (len(m.group(0)) < 30 or _in_hex(text, m.start())):
        m = None  # a digit run counts only when long and not inside a 0x… address
    if m:
        return f"{m.group(1)!r} repeats {len(m.group(0)) // max(len(m.group(1)), 1)}+ times"
    w = _WORD_RUN.search(text)
    if w:
        return f"{w.group(1)!r} repeats {len(w.group(0).split())} times in a row"
    leak = _LEAK.findall(text)
    if leak and len(chars) > len("".join(leak)) + 2:
        return f"special tokens in the text ({', '.join(sorted(set(leak))[:3])})"
    if _MOJIBAKE.search(text):
        return "mis-decoded bytes (mojibake) in the text"
    top, n = Counter(chars).most_common(1)[0]
    if n / len(chars) >= 0.5 and (output or top.isalpha() or top in "@?!⁇\ufffd"):  # not a ruler, an address
        return f"{n} of {len(chars)} characters are {top!r}"
    specials = _SPECIAL.findall(text)
    if len(specials) >= 2:
        return f"special tokens in the text ({', '.join(sorted(set(specials))[:3])})"
    words = text.split()
    if len(words) >= 8:
        word, m = Counter(words).most_common(1)[0]
        if m / len(words) >= 0.4 and (output or any(ch.isalpha() for ch in word)):  # a row of zeros in a log is a table
            return f"{word!r} is {m} of {len(words)} words"
        grams = Counter(tuple(words[i:i + 3]) for i in range(len(words) - 2))
        gram, k = grams.most_common(1)[0]
        if k >= 4 and k * 3 / len(words) >= 0.5 and (output or any(ch.isalpha() for ch in "".join(gram))):
            return f"{' '.join(gram)!r} repeats {k} times"
    if output and len(words) >= SALAD_WORDS:
        distinct = len({w.strip(".,;:!?'\"()*_").lower() for w in words})
        if distinct / len(words) < SALAD_RATIO:
            return f"word salad: {distinct} distinct words in {len(words)}"
    letters = [ch for ch in chars if ch.isalpha()]
    scripts = Counter("LATIN" if ch < "\u0080" else _script(ch) for ch in letters)
    if len(letters) >= 20 and len([s for s, c in scripts.items() if c >= 3]) >= 3:
        return f"it mixes {len(scripts)} scripts ({', '.join(s for s, _ in scripts.most_common(3))})"
    return None


# A reply of SALAD_WORDS words or more that uses fewer than SALAD_RATIO distinct words per word is word salad: prose of
# that length uses about 0.5-0.7 (the type/token ratio); a model that cycles a few words falls far below.
SALAD_WORDS = 60
SALAD_RATIO = 0.33
# A line that renders a chat transcript (`<｜User｜>Hello<｜Assistant｜>Hi there…`, llama-server's example_format cut
# from its start) or ends a rendered prompt: the special tokens are the template's, not a reply's.
_RENDERED_CHAT = re.compile(r"^['\"]?(?:" + _TOKEN + r").*(?:<\|assistant\|>|<｜assistant｜>|<\|im_start\|>\s*assistant|"
                            r"<\|start_header_id\|>\s*assistant)|"
                            # or a prompt's last line, ending on the generation prompt (`…<|start_header_id|>assistant<|end_header_id|>`)
                            r"(?:<\|start_header_id\|>assistant<\|end_header_id\|>|<\|im_start\|>assistant|<｜assistant｜>|<\|assistant\|>)\s*['\"]?$",
                            re.I)


# A command line (`mlx_lm.generate --model … --eos-token "<|eot_id|>"`): its special tokens are arguments, not a reply.
_COMMAND = re.compile(r"(?:^|\s)--[a-z][\w-]+(?:[= ]|$)")
_SPECIAL_ONLY = re.compile(r"^\s*(?:" + _TOKEN + r")\s*$")


_LOGGISH = re.compile(r"^\S+:\s|=|^\[|^\(|^\d|^(?:INFO|WARN|WARNING|ERROR|DEBUG|TRACE|FATAL|CRITICAL)\b|https?://|/\w+/")


_TEMPLATE_OPEN = re.compile(r"(?:chat[ _]?template|example_format|prompt[ _]?(?:format|template)|system prompt)\b[^'\"]*[:=]\s*(?P<q>['\"])(?!.*(?P=q)\s*$)", re.I)


def _template_lines(win: Window) -> set[int]:
    """Numbers of the lines inside a chat template the engine prints at start-up (llama.cpp's `chat template,
    example_format: '<|im_start|>system …'`, up to its closing quote): its special tokens are the format, not output."""
    inside: set[int] = set()
    quote = None
    for ln in win.lines:
        if quote is None:
            m = _TEMPLATE_OPEN.search(ln.text)
            if m:
                quote = m["q"]
                inside.add(ln.number)
            continue
        inside.add(ln.number)
        if ln.text.rstrip().endswith(quote) or len(inside) > 200:
            quote = None
    return inside


def _free_text(win: Window) -> tuple[int, str, str] | None:
    """Text printed without any log shape (a reply pasted after the log) that is garbled: replacement
    characters, or letters of three scripts mixed. Only these two tests: a banner's block art is no text."""
    inside = _template_lines(win)
    inside |= {ln.number for ln in win.failures}  # an error line's mangled bytes (a path, a user name) are no reply
    lines = [ln for ln in win.lines if not ln.quiet and len(ln.text) < 4000 and not _LOGGISH.search(ln.text)
             and ln.number not in inside and not _RENDERED_CHAT.search(ln.text) and not _COMMAND.search(ln.text)]
    text = " ".join(ln.text for ln in lines)
    if not lines or len(text) < 12:
        return None
    for ln in lines:
        why = garbage(ln.text)
        if why:
            return ln.number, ln.raw, why
    # across the lines: a sentence the model says again and again, or role/special tokens it keeps writing
    said = Counter(ln.text for ln in lines if len(ln.text) >= 12 and not any(ch.isdigit() for ch in ln.text)
                   and any(ch.isalpha() for ch in ln.text))
    if said:
        again, k = said.most_common(1)[0]
        if k >= 4:
            first = next(ln for ln in lines if ln.text == again)
            return first.number, first.raw, f"{again[:40]!r} repeats {k} times"
    alone = [ln for ln in lines if _SPECIAL_ONLY.match(ln.text)]  # a special token on a line of its own, again and again
    if len(alone) >= 4:
        return alone[0].number, alone[0].raw, f"special tokens in the text ({alone[0].text.strip()} on {len(alone)} lines)"
    leaks = [ln for ln in lines if _LEAK.search(ln.text)]
    if len(leaks) >= 3:
        return leaks[0].number, leaks[0].raw, f"special tokens in the text on {len(leaks)} lines"
    bad = text.count("\ufffd")
    if bad >= 2 or bad == 1 and len([ch for ch in text if ch.isalpha()]) >= 20:
        return lines[0].number, lines[0].raw, f"{bad} undecodable characters in the text"
    letters = [ch for ch in text if ch.isalpha()]
    scripts = Counter("LATIN" if ch < "\u0080" else _script(ch) for ch in letters)
    if len(letters) >= 12 and len([s for s, c in scripts.items() if c >= 3]) >= 3:
        return lines[0].number, lines[0].raw, f"it mixes {len(scripts)} scripts ({', '.join(s for s, _ in scripts.most_common(3))})"
    return None


def quality_item(win: Window) -> Item | None:
    """A gguf_gibberish_quality diagnosis from garbage output text (error) or an engine's warning (warning)."""
    for number, raw, text in outputs(win):
        why = garbage(text, output=True)
        if why:
            return _item("error", 0.4, f"The model's output is garbage: {why}", number, raw)
    loose = _free_text(win)
    if loose:
        number, raw, why = loose
        return _item("error", 0.35, f"The log shows garbled text: {why}", number, raw)
    for line in win.lines:  # any line, log-shaped or not: a word fragment stuttered a dozen times is a reply gone wrong
        m = _LONG_RUN.search(line.text) if not line.quiet else None
        if m:
            return _item("error", 0.35, f"The log shows garbled text: {m.group(1)!r} repeats "
                                        f"{len(m.group(0)) // len(m.group(1))}+ times", line.number, line.raw)
    for line in win.lines:
        if any(k in line.norm for k in _WARNING_HINTS) and _WARNINGS.search(line.text):
            return _item("warning", 0.35, "The engine warns that output quality will be degraded", line.number, line.raw)
    return None


_RATE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?([kKmM])i?B(?:/s|/sec|ps)\b")
_RATE_HINT = re.compile(r"[km]i?b(?:/s|/sec|ps)\b")  # over the lower-case window text: the lines worth reading
SLOW_MB_S = 5.0  # a download below this rate, in a log with no failure, is the problem worth naming


# A download's estimated time left (`Download progress: 1%, ETA 19:29:10`, `eta 2:03:04`, `ETA 47h`)
_ETA = re.compile(r"\beta:?\s*(?:(\d+):(\d\d):(\d\d)\b|(\d+(?:\.\d+)?)\s?h(?:ours?)?\b)")
_DOWNLOADING = re.compile(r"download|fetch|pull|\.safetensors|\.gguf|\.bin\b|%")
SLOW_ETA_H = 1.0  # a download that says it needs an hour or more (and never fails) crawls


def _eta_hours(m: re.Match) -> float:
    return int(m.group(1)) + int(m.group(2)) / 60 if m.group(1) else float(m.group(4))


def slow_download_item(win: Window) -> Item | None:
    """A download that runs but crawls (transfer rates below SLOW_MB_S in the log's last rate lines, or an
    estimated time left of an hour or more): a warning."""
    rates = [(ln, float(m.group(1)) / (1024 if m.group(2) in "kK" else 1))
             for ln in win.lines_matching(_RATE_HINT) for m in _RATE.finditer(ln.text)]
    if len(rates) < 1 or not _DOWNLOADING.search(" ".join(ln.norm for ln, _ in rates[-3:])):
        etas = [(ln, _eta_hours(m)) for ln in win.lines_matching(_ETA) if _DOWNLOADING.search(ln.norm)
                for m in _ETA.finditer(ln.norm)]
        slow = [(ln, h) for ln, h in etas if h >= SLOW_ETA_H]
        if not slow:
            return None
        line, hours = max(slow, key=lambda x: x[1])
        return _slow_item(f"The download says it needs {hours:.0f} h or more", line)
    last = rates[-3:]
    if max(r for _, r in last) >= SLOW_MB_S:
        return None
    line, rate = last[-1]
    return _slow_item(f"The download crawls at {rate:.2f} MB/s", line)


def _slow_item(title: str, line) -> Item:
    return Item(
        id="DIAG-SLOW-DOWNLOAD", category="slow_download", severity="warning", confidence=0.35,
        title=title,
        cause="The log's download runs but crawls (its last transfer rates below 5 MB/s, or an estimated time left of "
              "an hour or more): a throttled or distant mirror, unauthenticated hub requests, a proxy, or a slow disk.",
        fix="Log in to the hub (HF_TOKEN: higher limits), use `hf download` with hf_xet/hf_transfer, try another "
            "network or mirror (HF_ENDPOINT), and check the disk's write speed.",
        troubleshooting="guide-slow-hf-download", evidence=[(line.number, evidence_text(line.raw))], line=line.number,
        matched=["DIAG-SLOW-DOWNLOAD"],
    )


def _item(severity: str, confidence: float, title: str, number: int, raw: str) -> Item:
    return Item(
        id="DIAG-OUTPUT-QUALITY", category="gguf_gibberish_quality", severity=severity, confidence=confidence,
        title=title,
        cause="The model loads and answers, but its text is wrong: a broken or mismatched quantization, a tokenizer "
              "without its pre-tokenizer, a wrong chat template, or a kernel bug.",
        fix="Use a GGUF/checkpoint converted by a current mainline converter, a current engine build and the model's "
            "own chat template; try another quant, and for llama.cpp run once with -fa off to rule out a kernel bug.",
        troubleshooting="guide-gguf-gibberish", evidence=[(number, evidence_text(raw))], line=number,
        matched=["DIAG-OUTPUT-QUALITY"],
    )


# The time from a long prompt's prefill to its first decode step. SGLang: `[2025-04-03 09:48:06 TP0] Prefill batch.
# #new-seq: 1, #new-token: 8009` then `[… 09:49:36 TP0] Decode batch.`; vLLM: metrics lines with a request running and
# no token generated (`Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 tokens/s, Running: 1 reqs`).
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d):(\d\d):(\d\d)")
_PREFILL = re.compile(r"prefill batch\b.*#new-token: (\d+)")
_DECODE = re.compile(r"decode batch\b")
_VLLM_IDLE = re.compile(r"avg generation throughput: 0\.0 tokens/s, running: [1-9]\d* reqs")
_EVAL_TIME = re.compile(r"prompt eval time = ?([\d.]+) ms / ?(\d+) tokens")
_TASK_TOKENS = re.compile(r"new prompt,.*task\.n_tokens = ?(\d+)")
_PROGRESS = re.compile(r"prompt processing, .*progress = ?[\d.]+, t = ?[\d.]+ s / ?([\d.]+) tokens per second")
SLOW_PREFILL_S = 30  # seconds from a long prompt's prefill to its first decoded token
LONG_PROMPT = 4096  # tokens


def _seconds(raw: str) -> int | None:
    m = _STAMP.search(raw)
    return None if m is None else int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4))


def slow_prefill_item(win: Window) -> Item | None:
    """A long prompt whose prefill takes SLOW_PREFILL_S or more before the first decode step (SGLang's batch lines),
    or a request that sits three metric intervals or more without a generated token (vLLM): a warning."""
    lines = win.lines_matching(_PREFILL) + win.lines_matching(_DECODE)
    lines.sort(key=lambda ln: ln.number)
    start = None
    for ln in lines:
        m = _PREFILL.search(ln.norm)
        if m:
            start = (ln, int(m.group(1)), _seconds(ln.raw)) if int(m.group(1)) >= LONG_PROMPT else None
        elif start is not None and _DECODE.search(ln.norm):
            first, tokens, t0 = start
            t1 = _seconds(ln.raw)
            if t0 is not None and t1 is not None and (t1 - t0) % 86400 >= SLOW_PREFILL_S:
                return _prefill_item(f"A {tokens}-token prompt took {(t1 - t0) % 86400} s to its first decoded token",
                                     [first, ln])
            start = None
    for ln in win.lines_matching(_EVAL_TIME):  # llama.cpp's timing of a finished prompt
        m = _EVAL_TIME.search(ln.norm)
        if m and int(m.group(2)) >= 1024 and float(m.group(1)) >= SLOW_PREFILL_S * 1000:
            return _prefill_item(f"A {m.group(2)}-token prompt took {float(m.group(1)) / 1000:.0f} s to prefill", [ln])
    asked = 0
    for ln in sorted(win.lines_matching(_TASK_TOKENS) + win.lines_matching(_PROGRESS), key=lambda x: x.number):
        m = _TASK_TOKENS.search(ln.norm)  # llama-server: the prompt's size, then its prefill progress and rate
        if m:
            asked = int(m.group(1))
            continue
        m = _PROGRESS.search(ln.norm)
        if m and asked >= LONG_PROMPT and float(m.group(1)) > 0 and asked / float(m.group(1)) >= SLOW_PREFILL_S:
            return _prefill_item(f"A {asked}-token prompt prefills at {float(m.group(1)):.0f} tokens/s "
                                 f"(about {asked / float(m.group(1)):.0f} s before its first token)", [ln])
    idle = win.lines_matching(_VLLM_IDLE)
    run = []
    for ln in idle:
        run = run + [ln] if run and ln.number - run[-1].number <= 3 else [ln]
        if len(run) >= 3:
            return _prefill_item(f"A request ran {len(run)} metric intervals without a generated token", [run[0], run[-1]])
    return None


def _prefill_item(title: str, lines) -> Item:
    return Item(
        id="DIAG-SLOW-PREFILL", category="slow_long_context_prefill", severity="warning", confidence=0.35,
        title=title,
        cause="The server works, but a long prompt spends a long time in prefill before its first token: prefill grows "
              "with the prompt, and a small chunked-prefill size, CPU offload or an attention backend without a fast "
              "path for this GPU makes it slower.",
        fix="Raise the prefill chunk (vLLM --max-num-batched-tokens, SGLang --chunked-prefill-size), keep prefix "
            "caching on so long shared prefixes are prefilled once, and check that no layer runs on the CPU.",
        troubleshooting="guide-slow-long-prefill", evidence=[(ln.number, evidence_text(ln.raw)) for ln in lines],
        line=lines[0].number, matched=["DIAG-SLOW-PREFILL"],
    )
