"""Checks: the GPUs themselves — architecture, busy memory, MIG, row remaps, NVLink/P2P (V4D110–V4D119)."""

from __future__ import annotations

from v4doctor.judge.authoring import check, error, info, known, skipped, warning

from ._host import GIB, GPU_ENGINES, claim_sources, describe_gpus, engine_name, family_for_cc, gib, guide_claims, guide_text

_ARCH_SOURCES = ["https://github.com/vllm-project/vllm/issues/50576", "https://github.com/vllm-project/vllm/issues/41027",
                 "https://github.com/1CatAI/1Cat-vLLM/issues/82"]
_LLAMA_CMD = "llama-server -hf unsloth/DeepSeek-V4-Flash-GGUF:UD-Q4_K_XL --n-gpu-layers 99 --n-cpu-moe 99"
BUSY_BYTES = 2 * GIB  # memory other processes hold before v4doctor calls a GPU busy (our threshold)


@check("V4D111", title="GPU architecture supported by the engine", category="gpu",
       troubleshooting="gpu-arch-unsupported", sources=_ARCH_SOURCES, accepts_unknown=["engine_version"])
def gpu_arch_supported(gpus, engine, engine_version, kb, model):
    """Upstream vLLM/SGLang run V4 on SM90/SM10x (SM12x from vLLM 0.24); vLLM 0.33 does not reject SM80/SM89 up front;
    TensorRT-LLM runs V4-Flash on Hopper since #16940, V4-Pro not."""
    if engine not in GPU_ENGINES or not gpus:
        return None
    ccs = sorted({g.compute_capability for g in gpus if known(g.compute_capability)})
    if not ccs:
        return skipped("GPU architecture", f"compute capability unknown, because {gpus[0].compute_capability.reason}")
    findings = []
    for cc in ccs:
        found = _judge_cc(kb, cc, [g for g in gpus if g.compute_capability == cc], engine, engine_version)
        if found is None and engine == "trtllm":
            found = _trtllm_pro_on_hopper(kb, cc, [g for g in gpus if g.compute_capability == cc], model)
        if found is not None:
            findings.append(found)
    return findings


def _is_pro(model) -> bool:
    """V4-Pro or a checkpoint of it (its own key, or a re-quant whose base is Pro)."""
    if not known(model) or not isinstance(model, dict):
        return False
    key = str(model.get("base") or model.get("key") or "")
    return key == "pro" or key.startswith("pro-")


def _trtllm_pro_on_hopper(kb, cc: str, gpus: list, model):
    """TensorRT-LLM's Hopper support (#16940) covers V4-Flash only; V4-Pro stays Blackwell-only."""
    family = family_for_cc(kb, cc)
    if family is None or family.get("key") != "hopper" or not _is_pro(model):
        return None
    return error(
        f"{describe_gpus(gpus)} (compute capability {cc}): TensorRT-LLM does not run DeepSeek-V4-Pro on Hopper",
        family.get("trtllm_note", family["note"]),
        fix="Serve V4-Pro on Blackwell (B200/B300/GB200) with TensorRT-LLM, or on Hopper with vLLM or SGLang; on this "
            "Hopper host TensorRT-LLM can serve V4-Flash (≥ 1.3.0rc26).",
        evidence=[f"compute_capability = {cc}", f"model = {model.get('key')}", "engine = trtllm"],
        sources=family["sources"],
    )


def _judge_cc(kb, cc: str, gpus: list, engine: str, engine_version):
    family = family_for_cc(kb, cc)
    who = f"{describe_gpus(gpus)} (compute capability {cc})"
    if family is None:
        return warning(f"{who} is not in v4doctor's knowledge base", "Whether V4 runs there is unknown.")
    support = family.get(engine, "never" if engine in ("vllm", "sglang", "llamacpp", "ollama") else None)
    if support is None:  # an engine whose support on this family no source states (TensorRT-LLM on SM12x)
        return warning(f"{who}: whether {engine_name(engine)} runs DeepSeek V4 on {family['name']} is not known",
                       "No source v4doctor has read states it.", sources=family["sources"])
    if support == "upstream":
        return None
    if support == "preview":
        return warning(f"{who}: {engine_name(engine)} runs V4 on {family['name']} only from preview builds",
                       family["note"], fix=f"Use the image {family.get(engine + '_preview', 'of the preview build')}, or vLLM ≥ 0.24.0.",
                       sources=family["sources"])
    return _unsupported(kb, who, family, engine, engine_version)


def _unsupported(kb, who: str, family: dict, engine: str, engine_version):
    claims = guide_claims(kb, "V4D111")
    late = " vLLM 0.33 has no up-front check on this architecture: it starts, then fails inside kernels." if engine == "vllm" else ""
    route = "community forks only" if family[engine] == "forks" else "not at all"
    fork = f" (e.g. {family['vllm_fork']})" if engine == "vllm" and family.get("vllm_fork") else ""
    note = family.get(f"{engine}_note", family["note"])
    fix = ("Use Blackwell GPUs (B200/B300/GB200) or, for V4-Flash, Hopper (H100/H200, TensorRT-LLM #16940) for TensorRT-LLM." if engine == "trtllm" else
           "Use Hopper or Blackwell GPUs (H100/H200/B200), or serve a GGUF with llama.cpp ≥ b9840, which runs on any CUDA GPU and offloads to RAM.")
    return error(
        f"{who}: upstream {engine_name(engine)} does not run DeepSeek V4 on {family['name']} ({route}{fork})",
        f"{note}{late} {guide_text(claims)}".strip(),
        fix=fix,
        commands=[_LLAMA_CMD, "v4doctor run --engine llamacpp"],
        evidence=[f"compute_capability = {family['compute_capabilities']}", f"engine = {engine} {engine_version if known(engine_version) else ''}".strip()],
        sources=family["sources"] + claim_sources(claims),
    )


@check("V4D112", title="GPUs free (no memory held by other processes)", category="gpu", troubleshooting="gpu-busy",
       sources=["https://manpages.ubuntu.com/manpages/noble/man1/nvidia-smi.1.html"])
def gpus_not_busy(gpus):
    """Memory already held by other processes is memory the weights and KV cache cannot use."""
    busy = [(g, b) for g in gpus if (b := _busy_bytes(g)) is not None and b >= BUSY_BYTES]
    if not busy:
        return None
    lines = [f"GPU {g.index} ({g.name}): {gib(b)} held{_who(g)}" for g, b in busy]
    return warning(
        f"{len(busy)} GPU(s) already busy: " + "; ".join(lines),
        "Other processes hold GPU memory, so the weights or the KV cache may not fit (vLLM counts only free memory).",
        fix="Stop those processes, or pick free GPUs with CUDA_VISIBLE_DEVICES.",
        commands=["nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv"],
        evidence=lines,
    )


def _busy_bytes(g) -> int | None:
    """Bytes other processes hold: the process list when NVML gives it, else memory used."""
    if known(g.processes):
        return sum(p.used_bytes for p in g.processes if known(p.used_bytes))
    return g.memory_used_bytes if known(g.memory_used_bytes) else None


def _who(g) -> str:
    if not known(g.processes) or not g.processes:
        return ""
    return " by " + ", ".join(f"pid {p.pid}" + (f" {p.name}" if known(p.name) else "") for p in g.processes)


@check("V4D113", title="MIG mode off", category="gpu", troubleshooting="mig-enabled",
       sources=["https://docs.nvidia.com/datacenter/tesla/mig-user-guide/getting-started-with-mig.html"])
def mig_off(gpus):
    """A MIG-partitioned GPU shows only a slice of its memory to each instance; V4 needs whole GPUs."""
    mig = [g.index for g in gpus if known(g.mig_enabled) and g.mig_enabled]
    if not mig:
        return None
    return error(
        f"MIG mode is on for GPU {', '.join(map(str, mig))}",
        "Each MIG instance holds only a fraction of the GPU's memory; DeepSeek V4 needs whole GPUs.",
        fix="Disable MIG on those GPUs (needs root; the GPU must be idle), then reset them.",
        commands=[f"sudo nvidia-smi -i {i} -mig 0" for i in mig],
    )


@check("V4D114", title="no pending row remaps or retired pages", category="gpu", troubleshooting="row-remap-pending",
       sources=["https://docs.nvidia.com/deploy/a100-gpu-mem-error-mgmt/error-recovery-and-response-flags.html"])
def no_pending_remaps(gpus):
    """A pending row remap takes effect only after a GPU reset; a remap failure means the board needs service."""
    findings = []
    for g in gpus:
        rr = g.remapped_rows
        if known(rr) and rr.failure:
            findings.append(error(f"GPU {g.index} ({g.name}): row remapping failed ({rr.uncorrectable} uncorrectable rows)",
                                  "The GPU could not remap a bad memory row; it will keep raising errors.",
                                  fix="Drain the node and have the GPU serviced.", commands=["nvidia-smi -q -d ROW_REMAPPER"]))
        elif (known(rr) and rr.pending) or (known(g.retired_pages_pending) and g.retired_pages_pending):
            findings.append(warning(f"GPU {g.index} ({g.name}): a memory row remap / page retirement is pending",
                                    "The repair applies at the next GPU reset; NVIDIA says work can continue meanwhile, so reset when the GPU is idle.",
                                    fix="Reset the GPU when it is idle (or reboot).", commands=[f"sudo nvidia-smi -r -i {g.index}"]))
    return findings


@check("V4D115", title="GPUs linked by NVLink or PCIe P2P", category="gpu", troubleshooting="no-nvlink-p2p",
       sources=["https://docs.nvidia.com/deeplearning/sdk/nccl-archived/nccl_247/nccl-developer-guide/docs/troubleshooting.html", "https://github.com/NVIDIA/nccl/issues/1127"])
def gpus_peer_linked(gpu, gpus, engine):
    """Tensor parallelism all-reduces every layer; without NVLink or P2P that traffic goes through host memory."""
    if len(gpus) < 2 or engine not in GPU_ENGINES:
        return None
    topo = gpu.topology
    if not known(topo) or not topo:
        return skipped("GPU interconnect", f"topology unknown, because {topo.reason}" if not known(topo) else "no GPU-pair topology recorded")
    slow = [ln for ln in topo if not _nvlink(ln) and known(ln.p2p_read) and not ln.p2p_read]
    if not slow:
        return _unknown_links(topo)
    pairs = ", ".join(f"{ln.a}↔{ln.b} ({ln.link if known(ln.link) else 'PCIe'})" for ln in slow[:6])
    return warning(
        f"{len(slow)} GPU pair(s) without NVLink or P2P: {pairs}",
        "Tensor-parallel all-reduce then goes through host memory: slow, and NCCL may hang on some PCIe setups.",
        fix="Prefer data parallel + expert parallel (or pipeline parallel) over wide TP on this host; check `nvidia-smi topo -m`.",
        commands=["nvidia-smi topo -m", "nvidia-smi topo -p2p r"],
    )


def _nvlink(link) -> bool:
    return known(link.link) and link.link.startswith("NV")


def _unknown_links(topo):
    unknown = [ln for ln in topo if not _nvlink(ln) and not known(ln.p2p_read)]
    if unknown:
        return info(f"{len(unknown)} GPU pair(s) without NVLink whose P2P support was not read",
                    "Run `nvidia-smi topo -p2p r` to see whether they can talk peer-to-peer.")
    return None
