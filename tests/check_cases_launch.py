"""Hit and no-hit cases for the launch-plan checks V4D301-V4D315 (collected by tests/check_cases.py).

Each builder takes a recorded host from fixtures/hosts/ and sets the planned launch on it
(`--cmd` as argv, or a compose file from fixtures/launch/).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from v4doctor.collect.target import split_command

LAUNCH = Path(__file__).resolve().parent.parent / "fixtures" / "launch"
FLASH = "deepseek-ai/DeepSeek-V4-Flash"


def cmd(host_name: str, command: str, engine_version: str | None = None, model: str = "flash"):
    def build():
        from check_cases import host  # lazily: check_cases imports this module while it loads

        facts = host(host_name, model=model, engine_version=engine_version)
        facts.target = dataclasses.replace(facts.target, cmd=split_command(command))
        return facts

    return build


def compose(host_name: str, fixture: str, engine_version: str | None = None):
    def build():
        from check_cases import host

        facts = host(host_name, engine_version=engine_version)
        facts.target = dataclasses.replace(facts.target, compose_path=fixture, compose_text=(LAUNCH / fixture).read_text())
        return facts

    return build


def busy(builder, used_fraction: float):
    def build():
        from check_cases import devices

        facts = builder()
        total = facts.gpu.devices[0].memory_total_bytes
        return devices(facts, memory_used_bytes=int(total * used_fraction))

    return build


def doubled(builder):
    """The recorded host with its GPUs listed twice (4x H200 -> 8x H200): derived, not a recording."""
    def build():
        facts = builder()
        devs = facts.gpu.devices
        facts.gpu.devices = devs + [dataclasses.replace(d, index=d.index + len(devs)) for d in devs]
        return facts

    return build


RECIPE = (LAUNCH / "recipe-flash-blackwell-dp8.sh").read_text().split("\n", 3)[3]

CASES = [
    ("V4D301", cmd("8xh100-80g", f"vllm serve {FLASH} -tp 8 --max-model-len 2000000"), "error", "2,000,000 > V4's 1,048,576 context"),
    ("V4D301", compose("8xh100-80g", "guide-option-b-flash.yaml"), "ok", "131072 is within the 1M context"),
    ("V4D302", cmd("2xrtxpro6000", f"vllm serve {FLASH} -tp 2 --max-model-len 1048576 --gpu-memory-utilization 0.9"), "error",
     "Flash TP=2 on 2x96 GB at 0.9: even with the lowest measured overhead (8 GiB) the ~5.3 GiB pool holds ~630K tokens"),
    ("V4D302", cmd("2xrtxpro6000", f"vllm serve {FLASH} -tp 2 --max-model-len 1048576"), "ok",
     "fits: on the same 95.6 GiB (2x H20, vLLM 0.26, #51041) vLLM's own pool was 7.01 GiB, 1.11x at 912K; vLLM's block "
     "accounting (fixtures/fit/calibration.toml) gives ~1.0x at 1M from the ~7.2 GiB pool at 0.92"),
    ("V4D302", cmd("2xrtxpro6000", f"vllm serve {FLASH} -tp 2 --max-model-len 65536"), "ok", "65,536 tokens need ~3.2 GiB, inside the ~5.6 GiB pool"),
    ("V4D302", cmd("2xrtxpro6000", f"vllm serve {FLASH} -tp 2 --gpu-memory-utilization 0.9"), "error", "no --max-model-len: vLLM defaults to the full 1,048,576"),
    ("V4D302", cmd("2xrtxpro6000", "ollama run hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL"), "ok",
     "Ollama sizes its own context; no length was asked for"),
    ("V4D303", compose("8xh100-80g", "guide-option-b-flash.yaml"), "error", "the guide's TP=1: 148.66 GiB of Flash on one 80 GB GPU"),
    ("V4D303", cmd("8xh100-80g", f"vllm serve {FLASH} -tp 8"), "ok", "TP=8 puts ~18.6 GiB on each 80 GB GPU"),
    ("V4D303", doubled(cmd("4xh200", "vllm serve deepseek-ai/DeepSeek-V4-Pro --enable-expert-parallel --data-parallel-size 8 "
                               "--max-model-len 200000 --max-num-seqs 16", model="pro")), "warning",
     "the recipe's Pro DP8+EP on 8x H200: weights (122.9 GiB/GPU) fit, only the overhead assumption tips it: a warning, not an error"),
    ("V4D303", cmd("2xrtx4090", "llama-server -m /models/DeepSeek-V4-Flash-UD-Q4_K_XL-00001-of-00005.gguf -ngl 99"), "error", "all 44 layers of a 144 GiB GGUF on 2x24 GB"),
    ("V4D303", cmd("2xrtx4090", "llama-server -m /models/DeepSeek-V4-Flash-UD-Q4_K_XL-00001-of-00005.gguf -ngl 99 --cpu-moe"), "ok", "experts kept in RAM: V4D212 judges RAM + VRAM"),
    ("V4D304", compose("4xh200", "guide-option-b-pro.yaml"), "error", "TP=8 on a 4-GPU host"),
    ("V4D304", cmd("4xh200", f"vllm serve {FLASH} -tp 3"), "error", "TP=3 does not divide 64 heads"),
    ("V4D304", cmd("4xh200", f"vllm serve {FLASH} -tp 4"), "ok", "TP=4 on 4 GPUs"),
    ("V4D305", cmd("4xh200", f"vllm serve {FLASH} -tp 4 --tokenizer-mode hf"), "warning", "hf mode drops the V4 encoder"),
    ("V4D305", cmd("4xh200", f"vllm serve {FLASH} -tp 4", "0.33.0"), "ok", "no flag: vLLM >= 0.20 sets deepseek_v4 itself (review §1b)"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4", "0.26.0"), "error", "vLLM 0.26 aborts on auto KV"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4", "0.29.0"), "error", "0.29.0 still asserts on auto KV (kb-audit §1, models/deepseek_v4/attention.py)"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4", "0.30.0"), "ok", "0.30.0 maps auto to fp8_ds_mla (same file)"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4 --kv-cache-dtype bfloat16", "0.33.0"), "error", "bf16 KV refused on the fp8_ds_mla layout"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4", "0.33.0"), "ok", "0.33 maps auto to fp8_ds_mla: a warning here is a false positive"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4 --kv-cache-dtype fp8", "0.26.0"), "ok", "fp8 set explicitly"),
    ("V4D306", cmd("4xh200", f"vllm serve {FLASH} -tp 4 --kv-cache-dtype fp8_e4m3", "0.26.0"), "ok", "every fp8* value becomes fp8_ds_mla"),
    ("V4D307", cmd("4xh200", f"vllm serve {FLASH} -tp 4 --block-size 64"), "error", "64 is not a multiple of 256"),
    ("V4D307", cmd("4xh200", f"vllm serve {FLASH} -tp 4"), "ok", "unset: vLLM >= 0.20 picks 256 itself"),
    ("V4D308", cmd("8xb200", "vllm serve deepseek-ai/DeepSeek-V4-Flash-0731 -tp 8", "0.24.0", "flash-0731"), "error", "0731 has DSpark; 0.24 lacks it"),
    ("V4D308", cmd("8xb200", "vllm serve deepseek-ai/DeepSeek-V4-Flash-0731 -tp 8", "0.25.0", "flash-0731"), "ok", "0.25.0 is the DSpark floor"),
    ("V4D309", cmd("8xh100-80g", RECIPE, "0.26.0"), "error", "FP4 indexer + MegaMoE on Hopper"),
    ("V4D309", cmd("8xb200", RECIPE, "0.26.0"), "ok", "the recipe's Blackwell override on B200"),
    ("V4D310", cmd("8xh100-80g", f"docker run --gpus all vllm/vllm-openai:v0.33.0 --model {FLASH} -tp 8"), "error", "8-GPU container on Docker's 64 MB /dev/shm"),
    ("V4D310", compose("8xh100-80g", "guide-option-b-flash.yaml"), "ok", "the guide sets shm_size 16gb"),
    ("V4D310", cmd("2xrtx4090", "docker run --gpus all -p 8080:8080 ghcr.io/ggerganov/llama.cpp:server-cuda -m /models/DeepSeek-V4-Flash-Q4_K_M.gguf -ngl 99"),
     "ok", "llama.cpp splits layers over GPUs inside one process: no /dev/shm traffic"),
    ("V4D311", busy(cmd("4xh200", f"vllm serve {FLASH} -tp 4"), 0.30), "error", "30% held by others; vLLM wants 0.92"),
    ("V4D311", busy(cmd("4xh200", f"vllm serve {FLASH} -tp 4 --gpu-memory-utilization 0.6"), 0.30), "ok", "0.6 fits in the 70% free"),
    ("V4D312", cmd("4xh200", "vllm serve /models/DeepSeek-V4-Flash-UD-Q4_K_XL.gguf -tp 4"), "error", "vLLM cannot serve V4 GGUF"),
    ("V4D312", cmd("4xh200", f"vllm serve {FLASH} -tp 4"), "ok", "safetensors repo"),
    ("V4D313", cmd("driver570-vllm020-cu130", f"docker run --gpus all --ipc=host vllm/vllm-openai:v0.26.0 --model {FLASH} -tp 8"), "error", "CUDA 13 image on R570"),
    ("V4D313", cmd("driver570-vllm020-cu130", f"docker run --gpus all --ipc=host vllm/vllm-openai:v0.26.0-cu129 --model {FLASH} -tp 8"), "ok", "the cu129 build runs on R570"),
    ("V4D313", compose("driver570-vllm020-cu130", "guide-option-b-flash.yaml"), "error", "the guide's :latest is a CUDA 13 build since vLLM 0.20"),
    ("V4D313", compose("8xh100-80g", "guide-option-b-flash.yaml"), "ok", "R580 driver runs CUDA 13 images"),
    ("V4D314", compose("8xh100-80g", "guide-option-b-flash.yaml"), "info", "the guide passes --trust-remote-code; it is not needed"),
    ("V4D314", cmd("8xh100-80g", f"vllm serve {FLASH} -tp 8"), "ok", "not passed"),
    ("V4D315", cmd("8xb200", RECIPE, "0.33.0"), "error", "use_fp4_indexer_cache was removed by 0.33 (review §4b)"),
    ("V4D315", cmd("8xb200", RECIPE, "0.26.0"), "ok", "0.26 still has use_fp4_indexer_cache (between the 0.20 and 0.33 flag sets)"),
    ("V4D315", cmd("8xb200", f"vllm serve {FLASH} -tp 8 --max-modle-len 4096", "0.33.0"), "error", "typo: did you mean --max-model-len"),
    ("V4D315", cmd("8xb200", "vllm serve deepseek-ai/DeepSeek-V4.1-Flash -tp 8 --tokenizer-mode deepseek_v41", "0.33.0"), "ok",
     "vllm 0.33 documents deepseek_v41 (config/model.py) though --help's choices leave it out: never 'fixed' to deepseek_v4"),
    ("V4D315", cmd("8xb200", RECIPE, "0.30.0"), "error", "use_fp4_indexer_cache was removed in 0.30.0 (kb-audit §1; config/attention.py)"),
    ("V4D315", cmd("8xb200", RECIPE, "0.29.0"), "ok", "0.29.0 still accepts use_fp4_indexer_cache (a deprecated alias)"),
    ("V4D315", cmd("4xh200", f"python3 -m sglang.launch_server --model-path {FLASH} --tp-size 4 --enable-deepseek-v4-fp4-indexer", "0.20.0"),
     "ok", "the 0.20.0 given is vLLM's (the target engine), not SGLang's: SGLang is judged by its newest flag set"),
    ("V4D316", cmd("8xb200", f"vllm serve {FLASH} -tp 8 --moe-backend deep_gemm_mega_moe"), "error", "MegaMoE without expert parallel"),
    ("V4D316", cmd("8xb200", "vllm serve deepseek-ai/DeepSeek-V4-Flash-Base -dp 8 --enable-expert-parallel --moe-backend deep_gemm_mega_moe",
                   model="flash-base"), "error", "Flash-Base has FP8 experts"),
    ("V4D316", cmd("8xb200", f"vllm serve {FLASH} -dp 8 --enable-expert-parallel --moe-backend deep_gemm_mega_moe"), "ok",
     "the recipe's Blackwell override: FP4 experts with EP"),
    ("V4D317", cmd("2xrtx4090", "ollama run hf.co/teamblobfish/DeepSeek-V4-Flash-GGUF:Q4_K_M", model="teamblobfish/DeepSeek-V4-Flash-GGUF"), "error",
     "hf.co/REPO:QUANT of a fork-only GGUF: its quants need the cchuter/llama.cpp fork"),
    ("V4D317", cmd("2xrtx4090", "llama-server -hf antirez/deepseek-v4-gguf:q2 -ngl 99 --cpu-moe", model="antirez/deepseek-v4-gguf"), "warning",
     "made for the ds4 engine"),
    ("V4D317", cmd("2xrtx4090", "ollama run hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-IQ1_S", model="unsloth/DeepSeek-V4-Flash-GGUF"), "ok",
     "a mainline Unsloth quant"),
    ("V4D317", cmd("8xb200", f"vllm serve {FLASH} -tp 8"), "ok", "not a GGUF engine"),
]
