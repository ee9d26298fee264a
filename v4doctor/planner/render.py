"""A plan as something to run: the engine command, the `docker run` line and a compose file.

    vllm serve deepseek-ai/DeepSeek-V4-Flash --tensor-parallel-size 4 --enable-expert-parallel --kv-cache-dtype fp8 ...
Flags follow the vendor recipes (vLLM recipes base_args + tool calling + reasoning; the SGLang cookbook cells).
"""

from __future__ import annotations

import json
import re
import shlex

from v4doctor.launch import flags as flag_tables
from v4doctor.planner import multinode
from v4doctor.planner.host import Host
from v4doctor.planner.search import BATCHED_TOKENS, Candidate

PORTS = {"vllm": 8000, "sglang": 30000, "llamacpp": 8080}
CACHE = {"llamacpp": "~/.cache/llama.cpp:/root/.cache/llama.cpp"}
HF_VOLUME = "~/.cache/huggingface:/root/.cache/huggingface"
# vllm-project/recipes DeepSeek-V4-Flash.yaml / -Pro.yaml: base_args, features tool_calling + reasoning, spec_decoding
VLLM_RECIPE = ["--kv-cache-dtype", "fp8", "--block-size", "256", "--tokenizer-mode", "deepseek_v4",
               "--tool-call-parser", "deepseek_v4", "--enable-auto-tool-choice", "--reasoning-parser", "deepseek_v4"]
# the recipes' reasoning feature since its --reasoning-config flag exists (in vLLM 0.33's flag set, not 0.20's)
VLLM_REASONING_CONFIG = ["--reasoning-config", '{"reasoning_parser":"deepseek_v4","reasoning_start_str":"","reasoning_end_str":""}']
VLLM_SPEC = {"mtp": {"method": "mtp", "num_speculative_tokens": 2},
             "mtp-hopper": {"method": "mtp", "num_speculative_tokens": 1},
             "dspark": {"method": "dspark", "num_speculative_tokens": 7, "draft_sample_method": "probabilistic"}}
# docs.sglang.io cookbook DeepSeek-V4 cells (parsers card; EAGLE/MTP 3-1-4 low-latency preset)
SGLANG_PARSERS = ["--tool-call-parser", "deepseekv4", "--reasoning-parser", "deepseek-v4"]
SGLANG_EAGLE = ["--speculative-algorithm", "EAGLE", "--speculative-num-steps", "3", "--speculative-eagle-topk", "1",
                "--speculative-num-draft-tokens", "4"]


def engine_args(c: Candidate, host: Host) -> list[str]:
    """The engine's own arguments (after `vllm serve MODEL`, `sglang serve`, `llama-server`)."""
    return {"vllm": _vllm, "sglang": _sglang, "llamacpp": _llamacpp}[c.engine](c, host)


def _vllm(c: Candidate, host: Host) -> list[str]:
    if c.nodes > 1:
        out = multinode.vllm_args(c)
    else:
        out = ["--tensor-parallel-size", str(c.tp)] if c.tp > 1 else []
        out += ["--data-parallel-size", str(c.dp)] if c.dp > 1 else []
        out += ["--enable-expert-parallel"] if c.ep else []
    out += VLLM_RECIPE + (VLLM_REASONING_CONFIG if "reasoning-config" in flag_tables.table("vllm", c.version).flags else [])
    out += ["--max-model-len", str(c.max_model_len), "--gpu-memory-utilization", f"{c.fraction:g}",
            "--max-num-seqs", str(c.max_num_seqs), "--max-num-batched-tokens", str(BATCHED_TOKENS)]
    if c.layout == "tp" and c.tp > 1:  # recipe single_node_tp (Hopper and Blackwell): autotune off for a fast start
        out += ["--no-enable-flashinfer-autotune"]
    if c.indexer == "mxfp4":  # the recipe's Blackwell override, in 0.33's spelling (use_fp4_indexer_cache is rejected there)
        out += ["--attention-config.indexer_kv_dtype=mxfp4"]
        out += ["--moe-backend", "deep_gemm_mega_moe"] if c.ep and str(c.model.get("expert_dtype")) == "fp4" else []
    if c.spec:
        hopper = (host.family or {}).get("key") == "hopper" and c.spec == "mtp"
        out += ["--speculative-config", json.dumps(VLLM_SPEC["mtp-hopper" if hopper else c.spec], separators=(",", ":"))]
    return out


def _sglang(c: Candidate, host: Host) -> list[str]:
    out = ["--model-path", c.model["repo"], "--tp", str(c.tp)]
    out += multinode.sglang_args(c) if c.nodes > 1 else []
    if c.layout in ("dpa", "mdpa"):
        out += ["--dp", str(c.dp), "--enable-dp-attention", "--moe-a2a-backend", "deepep"]
    runner = moe_runner(c, host)
    out += ["--moe-runner-backend", runner] if runner else []
    out += ["--context-length", str(c.max_model_len), "--max-running-requests", str(c.max_num_seqs)]
    out += ["--mem-fraction-static", f"{c.fraction:g}"] if c.fraction is not None else []
    out += [*SGLANG_PARSERS, *(SGLANG_EAGLE if c.spec else [])]
    return out


def moe_runner(c: Candidate, host: Host) -> str | None:
    """The cookbook's MoE runner: Marlin (W4A16) for FP4 experts on Hopper and RTX PRO 6000 (SM120), FlashInfer MXFP4
    on Blackwell data-center TP."""
    fam = (host.family or {}).get("key")
    fp4 = str(c.model.get("expert_dtype", "fp4")) in ("fp4", "mxfp4")
    if fam in ("hopper", "blackwell-consumer") and fp4:
        return "marlin"
    if fam == "blackwell-dc" and fp4 and c.layout == "tp":
        return "flashinfer_mxfp4"
    return None


def _llamacpp(c: Candidate, host: Host) -> list[str]:
    return ["-hf", f"{c.model['repo']}:{c.quant}", *c.offload, "--ctx-size", str(c.max_model_len * c.max_num_seqs),
            "--parallel", str(c.max_num_seqs), "--host", "0.0.0.0", "--port", str(PORTS["llamacpp"])]


def env(c: Candidate) -> dict[str, str]:
    """Environment the cookbook sets: FP8 re-quant experts on Hopper, the DeepEP dispatch buffer under DP attention."""
    out = {}
    if c.engine == "sglang" and c.model.get("expert_dtype") == "fp8":
        out["SGLANG_DSV4_FP4_EXPERTS"] = "0"
    if c.layout in ("dpa", "mdpa"):
        out["SGLANG_DEEPEP_NUM_MAX_DISPATCH_TOKENS_PER_RANK"] = "256"
    return out


def command(c: Candidate, host: Host) -> list[str]:
    """The bare engine command, for an environment where the engine is installed."""
    head = {"vllm": ["vllm", "serve", c.model["repo"]], "sglang": ["sglang", "serve"], "llamacpp": ["llama-server"]}[c.engine]
    return [*head, *engine_args(c, host)]


def docker_run(c: Candidate, host: Host, image: str) -> list[str]:
    """`docker run` with the GPUs, host IPC (NCCL and the workers share /dev/shm), the weights cache and the image."""
    port = PORTS[c.engine]
    out = ["docker", "run"] + (["--gpus", "all"] if host.count else [])
    if c.nodes > 1:  # the ranks of every node talk over the host's network (the recipes' NCCL/Gloo interface)
        out += ["--network", "host", "--ipc=host", "-v", CACHE.get(c.engine, HF_VOLUME)]
    else:
        out += ["--ipc=host", "-p", f"{port}:{port}", "-v", CACHE.get(c.engine, HF_VOLUME)]
    for k, v in {**(multinode.SOCKET_ENV if c.nodes > 1 else {}), **env(c)}.items():
        out += ["-e", f"{k}={v}"]
    inner = command(c, host)
    return [*out, image, *(inner[2:] if c.engine == "vllm" else inner[1:] if c.engine == "llamacpp" else inner)]


def compose(c: Candidate, host: Host, image: str) -> str:
    """A docker-compose service for the plan (JSON-style flow values are valid YAML)."""
    docker = docker_run(c, host, image)
    args = docker[docker.index(image) + 1:]
    net = "    network_mode: host" if c.nodes > 1 else f"    ports: [\"{PORTS[c.engine]}:{PORTS[c.engine]}\"]"
    lines = ["services:", f"  {c.engine}:", f"    image: {image}", f"    command: {json.dumps(args)}", "    ipc: host",
             net, f"    volumes: [{json.dumps(CACHE.get(c.engine, HF_VOLUME))}]"]
    variables = {**(multinode.SOCKET_ENV if c.nodes > 1 else {}), **env(c)}
    if variables:
        lines.append("    environment: " + json.dumps(variables))
    if host.count:
        lines += ["    deploy:", "      resources:", "        reservations:", "          devices:",
                  "            - driver: nvidia", "              count: all", "              capabilities: [gpu]"]
    return "\n".join(lines) + "\n"


_SAFE = re.compile(r"[\w@%+=:,./~$-]+")  # $: the recipes' $HEAD_IP / $IFACE_NAME expand in the shell


def shell(argv: list[str]) -> str:
    """One shell line; `~/...` stays unquoted so the shell expands it."""
    return " ".join(a if _SAFE.fullmatch(a) else shlex.quote(a) for a in argv)
