"""Options shared by several subcommands."""

from __future__ import annotations

import argparse


def add_target_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("target")
    g.add_argument("--model", "-m", help="flash, pro, a repo id, or a local checkpoint path (default: flash)")
    g.add_argument("--engine", "-e", help="vllm, sglang, llamacpp or ollama (default: vllm)")
    g.add_argument("--engine-version", help="the engine version the plan will run (default: the installed one)")
    g.add_argument("--cmd", help='the planned launch command, e.g. "vllm serve deepseek-ai/DeepSeek-V4-Flash ..."')
    g.add_argument("--compose", metavar="FILE", help="the planned docker-compose file")
    g.add_argument("--path", action="append", default=[], metavar="DIR", help="where the weights will live (free disk is checked there); repeatable")


def add_output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--json", action="store_true", help="print only JSON on stdout")
    g.add_argument("--format", choices=("text", "json", "markdown"), default=None, help="output format (default: text)")
    g.add_argument("-v", "--verbose", action="store_true", help="show passing checks, evidence and sources")


def output_format(args: argparse.Namespace) -> str:
    return "json" if getattr(args, "json", False) else (args.format or "text")
