"""`v4doctor probe URL`: check a served OpenAI-compatible endpoint (health, models, one streamed reply)."""

from __future__ import annotations

import argparse

HELP = "probe a running OpenAI-compatible endpoint: health, served models, one streamed reply"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="the server's base URL, e.g. http://localhost:8000")
    p.add_argument("--model", metavar="NAME", help="the model name your clients send (default: the first served one)")
    p.add_argument("--api-key-env", metavar="VAR", help="read the API key from this environment variable (never from the command line)")
    p.add_argument("--max-model-len", type=int, metavar="N", help="the context length you planned; a smaller served one is reported")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="seconds to wait for the streamed reply (default 60)")
    p.add_argument("--slow-first-token", type=float, default=10.0, metavar="S", help="warn when the first token takes longer (default 10)")
    p.add_argument("--json", action="store_true", help="print only JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api

    result = api.probe(args.url, model=args.model, api_key_env=args.api_key_env, timeout=args.timeout,
                       max_model_len=args.max_model_len, slow_first_token_s=args.slow_first_token)
    if args.json:
        from v4doctor.output.render import to_json

        print(to_json(result.to_dict()))
    else:
        _print(result)
    return result.exit_code()


def _print(result) -> None:
    from v4doctor.output.render import print_terminal

    print_terminal(terminal_lines(result.to_dict(), result.findings))


def terminal_lines(data: dict, findings: list) -> list[tuple[str, str]]:
    """(text, style) lines: what was measured, then each problem with its fix."""
    from v4doctor.output.redact import redact_text
    from v4doctor.output.render import _finding_lines

    lines = [(f"v4doctor probe: {data['url']}", "bold"), ("", ""), *_measured_lines(data), ("", "")]
    for f in findings:
        lines.extend(_finding_lines(f, verbose=False))
    errors = sum(1 for f in findings if f.severity.value == "error")
    verdict = "The endpoint works." if not findings else f"{errors} error(s), {len(findings) - errors} warning(s)."
    lines.append((verdict, "bold green" if not errors else "bold red"))
    return [(redact_text(text), style) for text, style in lines]


def _measured_lines(data: dict) -> list[tuple[str, str]]:
    """What the probe measured: /health, the served models, the reply's speed and text."""
    chat, health = data.get("chat") or {}, data.get("health") or {}
    lines = [(f"  /health: HTTP {health.get('status')}", "")] if health else []
    for m in data.get("models") or []:
        extra = f", max_model_len {m['max_model_len']:,}" if m.get("max_model_len") else ""
        lines.append((f"  serves: {m['id']}{extra}", ""))
    if chat.get("done"):
        speed = f", {chat['tokens_per_s']} tokens/s" if chat.get("tokens_per_s") else ""
        lines.append((f"  reply: first token after {chat.get('ttft_s')} s, {chat.get('completion_tokens')} tokens{speed}", ""))
        lines.append((f"  text: {(chat.get('text') or chat.get('reasoning') or '')[:100]!r}", "dim"))
    return lines
