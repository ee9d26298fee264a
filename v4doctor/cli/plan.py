"""`v4doctor plan`: what to run on this host (or a snapshot, or a hypothetical `--gpus 8xH200`)."""

from __future__ import annotations

import argparse

from v4doctor.cli._common import output_format, spinner

HELP = "which V4 checkpoint, engine, image, layout and flags to run on this host, ranked"


def add_arguments(p: argparse.ArgumentParser) -> None:
    host = p.add_argument_group("host (default: this machine)")
    host.add_argument("--facts", metavar="FILE", help="plan for a snapshot from `v4doctor snapshot`")
    host.add_argument("--gpus", help="a hypothetical host COUNTxGPU, e.g. 8xH200, 2xRTX-PRO-6000 (nothing is read)")
    host.add_argument("--ram-gib", type=float, help="hypothetical host: system RAM in GiB")
    host.add_argument("--disk-gib", type=float, help="hypothetical host: free disk for the weights in GiB")
    host.add_argument("--driver", help="hypothetical host: NVIDIA driver version, e.g. 580.65.06")
    host.add_argument("--nodes", type=int, help="this many nodes like the host (plans over nodes when one is too small); "
                      "a fleet snapshot (`snapshot --ray`) given with --facts says it itself")
    g = p.add_argument_group("goal")
    g.add_argument("--model", "-m", default="any", help="a checkpoint (repo id or alias), flash, pro, or any (default)")
    g.add_argument("--context", type=int, help="tokens each request needs (default: the longest that fits, at least 32768)")
    g.add_argument("--concurrency", type=int, default=1, help="requests at that context at once (default 1)")
    g.add_argument("--engine", "-e", default="any", help="any (default), vllm, sglang or llamacpp")
    g.add_argument("--engine-version", help="the engine version you have (needs --engine), e.g. 0.33.0")
    g.add_argument("--image", help="the engine image you have, e.g. vllm/vllm-openai:v0.33.0")
    g.add_argument("--prefer", choices=("context", "concurrency", "latency"), default="context", help="what ranks first (default: context)")
    g.add_argument("--top", type=int, default=3, help="how many plans to print (default 3)")
    g.add_argument("--ignore", action="append", default=None, metavar="ID", help="checks left out of the judging, as `run --ignore` (e.g. disk)")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print only JSON on stdout")
    o.add_argument("--format", choices=("text", "json", "markdown"), default=None, help="output format (default: text)")
    o.add_argument("-v", "--verbose", action="store_true", help="list every rejected candidate")


def run(args: argparse.Namespace) -> int:
    from v4doctor import api
    from v4doctor.output import render

    ignore = [v.strip() for item in args.ignore or [] for v in item.split(",") if v.strip()]
    with spinner(args, "v4doctor: reading this host") as progress:
        result = api.plan(gpus=args.gpus, ram_gib=args.ram_gib, disk_gib=args.disk_gib, driver=args.driver, facts_path=args.facts,
                          model=args.model, context=args.context, concurrency=args.concurrency, engine=args.engine,
                          engine_version=args.engine_version, image=args.image, prefer=args.prefer, top=args.top,
                          ignore=ignore, progress=progress, nodes=args.nodes)
    fmt = output_format(args)
    if fmt == "json":
        print(render.to_json(api.redact_result(result.to_dict())))
    else:
        from v4doctor.output.redact import redact_text

        text = result.to_markdown() if fmt == "markdown" else result.to_text(verbose=args.verbose)
        print(redact_text(text), end="")
    return 0 if result.fits else 1
