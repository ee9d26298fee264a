"""Fixers: pure `(LaunchSpec, Finding) -> LaunchSpec` functions, one per remedy, by id.

A fixer reads what it needs from the finding's evidence (`fit.max_model_len_fits=121344`,
`flag=...`, `replace=...`, `gpus.visible=4`) so it never recomputes facts; the patch step in
`fix.py` re-checks the result, so a fixer only has to make its one change.
"""

from __future__ import annotations

from typing import Callable

from v4doctor.judge.findings import Finding
from v4doctor.launch import rules
from v4doctor.launch.plan import layout, length_flag, parallel_flag
from v4doctor.launch.spec import LaunchSpec

Fixer = Callable[[LaunchSpec, Finding], LaunchSpec]
FIXERS: dict[str, Fixer] = {}


def fixer(fixer_id: str):
    def register(fn: Fixer) -> Fixer:
        FIXERS[fixer_id] = fn
        return fn

    return register


def evidence(finding: Finding, key: str) -> list[str]:
    """Values of `key=value` evidence lines, in order."""
    return [e.split("=", 1)[1] for e in finding.evidence if e.startswith(key + "=")]


def _block(spec: LaunchSpec) -> int:
    return 256 if spec.engine == "vllm" else 1


@fixer("fix-max-model-len")
def max_model_len(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Lower max-model-len / context-length to the largest that fits, rounded down to the block size."""
    fits = evidence(finding, "fit.max_model_len_fits")
    name = length_flag(spec.engine)
    if not fits or not name:
        return spec
    value = int(fits[0]) // _block(spec) * _block(spec)
    current = spec.number(name)
    if value <= 0 or (current is not None and current <= value):
        return spec
    return spec.with_flag(name, str(value))


@fixer("fix-pro-to-flash")
def pro_to_flash(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Serve V4-Flash instead of Pro; the served model name is kept so clients do not change."""
    if not spec.model or "pro" not in spec.model.lower():
        return spec
    out = spec
    if spec.engine == "vllm" and spec.flag("served-model-name") is None:
        out = out.with_flag("served-model-name", spec.model)
    return out.with_model(rules.FLASH_REPO)


@fixer("fix-parallel")
def parallel(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Tensor parallel over the GPUs the launch sees (a power of two), PP and DP back to 1."""
    visible = evidence(finding, "gpus.visible")
    tp_name = parallel_flag(spec.engine, "tp")
    if not tp_name:
        return spec
    lay = layout(spec)
    have = int(visible[0]) if visible else lay["tp"] * lay["pp"] * lay["dp"]
    tp = 1 << (max(have, 1).bit_length() - 1)
    out = spec
    for which in ("pp", "dp"):
        name = parallel_flag(spec.engine, which)
        if name and spec.flag(name) is not None:
            out = out.without_flag(name)
    if spec.engine == "vllm" and lay["dp"] > 1:
        out = out.without_flag("enable-expert-parallel")
    return out if out.flag(tp_name) == str(tp) else out.with_flag(tp_name, str(tp))


@fixer("fix-tokenizer-mode")
def tokenizer_mode(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Drop a non-V4 --tokenizer-mode: vLLM >= 0.20 picks deepseek_v4 itself."""
    mode = spec.flag("tokenizer-mode")
    return spec if mode is None or mode in rules.V4_TOKENIZER_MODES else spec.with_flag("tokenizer-mode", "deepseek_v4")


@fixer("fix-kv-cache-dtype")
def kv_cache_dtype(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Set --kv-cache-dtype fp8 (required on vLLM 0.20-0.28; the only V4 layout on the default path)."""
    return spec if str(spec.flag("kv-cache-dtype", "")).startswith("fp8") else spec.with_flag("kv-cache-dtype", "fp8")


@fixer("fix-block-size")
def block_size(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Set --block-size 256 (what vLLM picks for V4 when the flag is left out)."""
    size = spec.number("block-size")
    return spec if size is None or (size > 0 and size % 256 == 0) else spec.with_flag("block-size", "256")


@fixer("fix-shm")
def shm(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Share the host's IPC namespace (`ipc: host` / `--ipc=host`), so /dev/shm is not Docker's 64 MB."""
    if not spec.image or spec.ipc == "host" or spec.shm_size:
        return spec
    return spec.with_container(ipc="host")


@fixer("fix-cuda-image")
def cuda_image(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Use the CUDA 12.9 build of the vLLM image on a pre-R580 driver."""
    alt = rules.cu129_tag(spec.image) if spec.image else None
    return spec.with_image(alt) if alt else spec


FIXERS["image-cu129"] = cuda_image  # the id the Docker checks (V4D504) name


def _loses_value(spec: LaunchSpec, name: str, target: str) -> bool:
    """The corrected flag needs a value the typo never had (a bare switch at the end of a command)."""
    from v4doctor.launch.parse import _lookup

    hit = _lookup(spec.engine, "--" + target) if spec.engine else None
    key, _, sub = name.partition(".")
    return bool(hit and hit[3]) and any(a.key == key and a.sub == sub and not a.values for a in spec.args)


@fixer("fix-invalid-flags")
def invalid_flags(spec: LaunchSpec, finding: Finding) -> LaunchSpec:
    """Rename a flag to its close or new spelling (with the mapped value), else drop it."""
    out = spec
    replace_with, values = evidence(finding, "replace"), evidence(finding, "value")
    for name in evidence(finding, "flag"):
        if name not in out.flags:
            continue
        target = replace_with[0].lstrip("-") if replace_with else None
        if target and target.replace("_", "-") in out.flags:
            out = out.without_flag(name)  # the right spelling is already there: the typo goes
        elif target and finding.title.find("is not one of") < 0:
            if not values and _loses_value(out, name, target):
                continue  # `--max-num-batchd-tokens` with no value: renamed it would not parse; left as it is
            out = out.rename_flag(name, target, values[0] if values else None)
        elif values:
            out = out.with_flag(name, values[0])
        else:
            out = out.without_flag(name)
    return out
