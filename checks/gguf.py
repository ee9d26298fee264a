"""Checks: GGUF files (architecture, completeness, provenance, quant quality, engine, offload).

Each check reads `gguf`, the list of GGUF records from v4doctor/collect/gguf.py (one per
model: a file, a split set or an Ollama model; see docs/weights.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from v4doctor.judge.authoring import check, error, info, known, warning
from v4doctor.weights.offload import SOURCES as OFFLOAD_SOURCES  # where the plan's reserves come from

SRC_GGUF = "shared/research/v4-facts.md §2.2"
V4_NAME = re.compile(r"deepseek[-_ ]?v4(?![.]1)", re.IGNORECASE)
LAYERS = {"flash": 43, "pro": 61}  # deepseek4.block_count (v4-facts §1.2/§1.3, §2.2)
_INTACT = {"category": "gguf", "troubleshooting": "corrupt-or-incomplete-weights"}  # V4D403-V4D405, V4D407, V4D411


def _label(rec: dict) -> str:
    return Path(str(rec.get("path", "?"))).name


def _main_models(gguf: list) -> list:
    return [r for r in gguf if not r.get("sidecar")]


def _arch(kb, name):
    return next((a for a in kb.records("gguf_arch") if a["arch"] == name), None)


def _build(version) -> int | None:
    """llama.cpp "b9840" / "9840" -> 9840."""
    m = re.search(r"(\d{3,6})", str(version)) if known(version) else None
    return int(m.group(1)) if m else None


@check("V4D401", title="GGUF architecture is DeepSeek V4 (deepseek4)", category="gguf",
       troubleshooting="gguf-missing-tensor", sources=["https://github.com/ggml-org/llama.cpp/pull/24162", "https://github.com/vllm-project/vllm/issues/42229"])
def gguf_architecture(gguf, kb):
    """A V4 GGUF for mainline llama.cpp says `general.architecture = deepseek4`; deepseek2 means an early conversion."""
    out = []
    for rec in gguf:
        arch = rec.get("architecture")
        if arch == "deepseek4" or (arch is None and (rec.get("sidecar") or 1 in rec.get("missing_splits", []))):
            continue  # no shard 1, no metadata: V4D403 reports the missing shard
        known_arch = _arch(kb, arch)
        v4_named = bool(V4_NAME.search(f"{rec.get('name') or ''} {_label(rec)}"))
        if known_arch and known_arch.get("v4_mislabel") and v4_named:
            out.append(error(f"{_label(rec)} is a DeepSeek V4 file labelled `{arch}`", f"{known_arch['note']} Mainline llama.cpp loads V4 only as `deepseek4`.",
                             fix="Download a GGUF converted by mainline llama.cpp after PR #24162 (unsloth/DeepSeek-V4-Flash-GGUF UD-Q4_K_XL, bartowski, ggml-org).",
                             troubleshooting="guide-gguf-gibberish", evidence=[f"general.architecture = {arch}"], sources=known_arch["sources"]))
        elif known_arch and known_arch["family"] == "v4.1":
            out.append(error(f"{_label(rec)} is DeepSeek V4.1 (`{arch}`), not V4", known_arch["note"], fix="Use ik_llama.cpp for V4.1 GGUFs, or serve the V4.1 safetensors with vLLM ≥ 0.30.0.",
                             evidence=[f"general.architecture = {arch}"], sources=known_arch["sources"]))
        else:
            out.append(error(f"{_label(rec)} is not a DeepSeek V4 GGUF (architecture `{arch}`)", "v4doctor checks DeepSeek V4 deployments; this file is another model.",
                             fix="Point --model at a `deepseek4` GGUF.", evidence=[f"general.architecture = {arch}"]))
    return out


@check("V4D402", title="llama.cpp build loads deepseek4 (b9840+) and the MTP/DSpark sidecars", category="gguf",
       troubleshooting="llamacpp-unknown-arch-deepseek4", sources=["https://github.com/ggml-org/llama.cpp/pull/24162", "https://github.com/ggml-org/llama.cpp/pull/25784"],
       accepts_unknown=["engine_version"])
def llamacpp_build_for_gguf(gguf, engine, engine_version, kb):
    """The installed llama.cpp must be b9840 or newer for `deepseek4`; sidecars need commit 596a579 (PR #25784)."""
    if engine != "llamacpp":
        return None
    build = _build(engine_version)
    floor = (_arch(kb, "deepseek4") or {}).get("llamacpp_min_build", 9840)
    out = []
    if any(r.get("architecture") == "deepseek4" for r in gguf):
        if build is None:
            out.append(warning("llama.cpp build unknown: cannot confirm it loads `deepseek4`", f"No llama-server/llama-cli version was read ({getattr(engine_version, 'reason', engine_version)}).",
                               fix=f"Run `llama-server --version`; it must say build {floor} or newer."))
        elif build < floor:
            out.append(error(f"llama.cpp b{build} is older than b{floor}, the first build with `deepseek4`",
                             "It stops with `unknown model architecture: 'deepseek4'`.", fix=f"Upgrade llama.cpp to b{floor} or newer (a current release).",
                             evidence=[f"llama.cpp build {build}"]))
    for rec in (r for r in gguf if r.get("sidecar")):
        side = next((s for s in kb.records("gguf_sidecar") if s["kind"] == rec["sidecar"]), {})
        out.append(info(f"{_label(rec)} is a {rec['sidecar'].upper()} sidecar: it needs llama.cpp with commit {side.get('commit', '596a579')} (PR #{side.get('pr', 25784)}, {side.get('date', '2026-08-02')})",
                        side.get("note", ""), fix="Use a llama.cpp release from August 2026 or later; load the sidecar with `-md`.", sources=side.get("sources", [])))
    return out


@check("V4D403", title="GGUF split set is complete and consistent", sources=[SRC_GGUF], **_INTACT)
def gguf_split_complete(gguf):
    """Every shard `-0000k-of-0000n` is present, numbered right, and the tensor counts add up."""
    out = []
    for rec in gguf:
        problems = []
        if rec.get("missing_splits"):
            problems.append(f"missing shard(s) {', '.join(map(str, rec['missing_splits']))} of {rec.get('expected_split_count')}")
        declared, found = rec.get("split_tensors_count"), rec.get("tensor_count")
        if declared and not rec.get("missing_splits") and found is not None and declared != found:
            problems.append(f"split.tensors.count is {declared} but the shards hold {found} tensors")
        problems += _shard_numbering(rec)
        if problems:
            out.append(error(f"{_label(rec)}: the split set is incomplete", "; ".join(problems) + ". llama.cpp refuses to load an incomplete set.",
                             fix="Download the missing shards (same repo, same quant folder), e.g. `hf download <repo> --include '<quant>/*'`.", evidence=problems))
    return out


def _shard_numbering(rec: dict) -> list[str]:
    """Each shard's own split.no / split.count must agree with its file name (a shard from another set does not)."""
    from v4doctor.weights.describe import SPLIT_RE

    out = []
    for f in rec.get("files", []) if rec.get("kind") == "split" else []:
        m = SPLIT_RE.match(Path(str(f["path"])).name)
        if not m or f.get("split_count") is None:
            continue
        no, count = int(m.group("no")), int(m.group("count"))
        if f["split_count"] != count or (f.get("split_no") is not None and f["split_no"] + 1 != no):
            out.append(f"{Path(str(f['path'])).name} says it is shard {(f.get('split_no') or 0) + 1} of {f['split_count']}")
    return out


@check("V4D404", title="GGUF files are not truncated or corrupt", sources=[SRC_GGUF], **_INTACT)
def gguf_not_truncated(gguf):
    """A file shorter than the tensor data its header declares is a cut-off download."""
    out = []
    for rec in gguf:
        for f in rec.get("files", []):
            name = Path(str(f["path"])).name
            if f.get("error"):
                out.append(error(f"{name}: corrupt or cut-off GGUF header", f["error"], fix="Delete the file and download it again; compare with `v4doctor gguf --hub --hash`."))
            elif f.get("truncated"):
                short = f["expected_bytes"] - f["size"]
                out.append(error(f"{name} is truncated: {short:,} bytes short of the data its header declares",
                                 f"The file is {f['size']:,} bytes; its tensors end at byte {f['expected_bytes']:,}. An interrupted download.",
                                 fix="Resume or repeat the download (`hf download` resumes), then check again.", evidence=[f"{f['size']} < {f['expected_bytes']}"]))
    return out


@check("V4D405", title="GGUF shards are all the same quant", sources=[SRC_GGUF], **_INTACT)
def gguf_not_mixed(gguf):
    """Shards of one set must come from one quant: a Q4 shard next to a Q8 shard is two downloads mixed."""
    out = []
    for rec in gguf:
        files = rec.get("files", [])
        quants = {f["name_quant"] for f in files if f.get("name_quant")}
        types = {f["file_type"] for f in files if f.get("file_type") is not None}
        if len(quants) > 1 or len(types) > 1:
            seen = ", ".join(sorted(map(str, quants if len(quants) > 1 else types)))
            out.append(error(f"{_label(rec)}: shards from different quants ({seen})", "The files of one split set must come from one conversion.",
                             fix="Keep one quant's folder: delete the odd shards and download the matching ones."))
    prefixes = {}
    for rec in (r for r in gguf if r.get("kind") == "split" and r.get("missing_splits")):
        prefixes.setdefault((str(Path(rec["path"]).parent), rec.get("expected_split_count")), []).append(_label(rec))
    for (folder, count), names in prefixes.items():
        if len(names) > 1:
            out.append(error(f"{folder}: {len(names)} incomplete {count}-shard sets side by side", f"Shards of different quants are mixed: {', '.join(names)}.",
                             fix="Keep one quant; download its missing shards."))
    return out


@check("V4D406", title="GGUF is not from a known-problem source (fork-only, ds4-only, pre-merge)", category="gguf",
       troubleshooting="guide-gguf-gibberish", sources=["https://hugingapi.com/teamblobfish/DeepSeek-V4-Flash-GGUF?local-app=llama.cpp", "https://hugingapi.com/antirez/deepseek-v4-gguf/blob/main/README.md"])
def gguf_source_known_problem(gguf, kb):
    """Fork-only and pre-merge conversions fail on mainline llama.cpp; ds4 files are made for antirez's ds4 engine."""
    from v4doctor.weights.sources import identify

    out = []
    for rec in gguf:
        source = identify(rec, kb)
        if source and source["id"] == "unsloth" and rec.get("name_quant") and not rec["name_quant"].startswith("UD-"):
            out.append(warning(f"{_label(rec)} claims Unsloth ({source['matched_by']}) but is named {rec['name_quant']}",
                               "Unsloth's V4 repos have only `UD-*` quants (UD-Q4_K_XL, UD-Q8_K_XL ...); the guide's `Q4_K_M` is not among them, so this file came from elsewhere.",
                               fix="Download `UD-Q4_K_XL` from unsloth/DeepSeek-V4-Flash-GGUF, or check the file's real origin with `v4doctor gguf --hub --hash --repo <repo>`."))
        if not source or source["status"] == "mainline":
            continue
        make = warning if source["status"] == "ds4-only" else error
        out.append(make(f"{_label(rec)} comes from {source['id']} ({source['status']})", f"{source['note']} (matched by {source['matched_by']})",
                        fix=source.get("fix", "Use a mainline GGUF."), troubleshooting="guide-gguf-gibberish" if source["status"] != "ds4-only" else "gguf-missing-tensor",
                        sources=source["sources"]))
    return out


def _name_contradictions(rec: dict) -> list[str]:
    from v4doctor.weights.describe import quant_bits

    found = []
    claimed, actual = rec.get("name_quant"), rec.get("file_type_name")
    if claimed and actual and quant_bits(claimed) != quant_bits(actual):
        found.append(f"the file name says {claimed} but general.file_type is {actual}")
    text = f"{rec.get('name') or ''} {_label(rec)}".lower()
    blocks = rec.get("block_count")
    for variant, layers in LAYERS.items():
        if re.search(rf"v4[-_ ]?{variant}", text) and blocks and blocks != layers and not rec.get("sidecar"):
            found.append(f"the name says V4-{variant.title()} ({layers} layers) but block_count is {blocks}")
    return found


@check("V4D407", title="GGUF metadata agrees with its file name",
       sources=[SRC_GGUF, "shared/research/v4-facts.md §1.2"], **_INTACT)
def gguf_name_matches_metadata(gguf):
    """A file named Q4 whose header says Q8, or named Flash with Pro's 61 layers, was renamed or mixed up."""
    return [warning(f"{_label(r)}: name and metadata disagree", "; ".join(c) + ".", fix="Check where the file came from (`v4doctor gguf --hub --hash`) before trusting the name.", evidence=c)
            for r in gguf if (c := _name_contradictions(r))]


@check("V4D408", title="GGUF quant is 3 bits or more", category="gguf",
       troubleshooting="guide-gguf-gibberish", sources=["https://github.com/ggml-org/llama.cpp/pull/28696", "https://unsloth.ai/docs/jp/moderu/deepseek-v4"])
def gguf_low_bit_quant(gguf):
    """Sub-3-bit quants (IQ1/IQ2/Q2) lose quality; they are for fitting in RAM, not for accuracy."""
    out = []
    for rec in _main_models(gguf):
        bits = rec.get("quant_bits")
        if bits is not None and bits < 3:
            out.append(warning(f"{_label(rec)} is a {bits}-bit quant ({rec.get('name_quant') or rec.get('file_type_name')})",
                               "Below 3 bits, quality depends on keeping the non-expert tensors at high precision; expect weaker answers than UD-Q4_K_XL or Q8.",
                               fix="If RAM + VRAM allow, use UD-Q4_K_XL (~155 GB) or UD-Q8_K_XL (~162 GB); V4's experts are FP4 already, so Q8 costs only ~7 GB more."))
    return out


@check("V4D409", title="a GGUF is served by llama.cpp or Ollama, not vLLM/SGLang", category="gguf",
       troubleshooting="gguf-given-to-vllm", sources=["https://github.com/vllm-project/vllm/issues/42229", "https://github.com/vllm-project/vllm-gguf-plugin/issues/114"])
def gguf_given_to_vllm(gguf, engine):
    """vLLM cannot serve DeepSeek V4 GGUFs (`GGUF model with architecture deepseek2 is not supported yet`)."""
    if engine not in ("vllm", "sglang") or not gguf:
        return None
    return error(f"{engine} cannot serve a DeepSeek V4 GGUF ({_label(gguf[0])})",
                 "vLLM rejects it: `ValueError: GGUF model with architecture deepseek2 is not supported yet.`; the vllm-gguf-plugin 0.0.5 says `RuntimeError: Unknown gguf model_type: deepseek_v4`.",
                 fix="Serve the GGUF with llama.cpp (`llama-server -m <file>.gguf`) or Ollama, or give vLLM the safetensors repo (deepseek-ai/DeepSeek-V4-Flash).")


def _vram(gpus) -> list[int]:
    out = []
    for g in gpus:
        if known(g.memory_total_bytes):
            used = g.memory_used_bytes if known(g.memory_used_bytes) else 0
            out.append(g.memory_total_bytes - used)
    return out


@check("V4D410", title="RAM + VRAM hold the GGUF (llama.cpp offload plan)", category="gguf",
       troubleshooting="ram-too-small-for-offload", sources=[*OFFLOAD_SOURCES, SRC_GGUF],
       accepts_unknown=["gpus"])
def gguf_offload_plan(gguf, engine, gpus, system):
    """File size vs free VRAM + available RAM, and the --n-gpu-layers / --n-cpu-moe that fit it."""
    from v4doctor.weights.offload import GIB, plan

    if engine not in ("llamacpp", "ollama") or not known(system.ram_available_bytes):
        return None
    out = []
    for rec in _main_models(gguf):
        p = plan(rec, _vram(gpus) if known(gpus) else [], system.ram_available_bytes)
        sums = f"{p['size'] / GIB:.1f} GiB of weights; {p['gpu_room'] / GIB:.1f} GiB usable VRAM (4 GiB/GPU kept for KV + compute), {p['ram_room'] / GIB:.1f} GiB usable RAM (8 GiB kept)"
        if p["where"] == "none":
            out.append(error(f"{_label(rec)} does not fit: short by {p['short_by'] / GIB:.1f} GiB", sums + ". llama.cpp would swap or be killed.",
                             fix="Use a smaller quant (UD-IQ3_XXS ~103 GB runs in 110 GB RAM), add RAM/GPUs, or use a bigger host."))
        else:
            flags = " ".join(p["flags"])
            out.append(info(f"{_label(rec)}: {p['where']} — run llama.cpp with `{flags}`", sums + f"; {p['gpu_bytes'] / GIB:.1f} GiB on GPU, {p['cpu_bytes'] / GIB:.1f} GiB in RAM.",
                            fix=f"llama-server -m {rec['path']} {flags} --cache-type-k q8_0", evidence=[sums]))
    return out


@check("V4D411", title="GGUF matches a published file (size / sha256 against the hub)",
       sources=["https://huggingface.co/docs/huggingface_hub/package_reference/hf_api"], **_INTACT)
def gguf_provenance(gguf):
    """With `v4doctor gguf --hub [--hash]`: which repo and revision the files match, or none."""
    out = []
    for rec in (r for r in gguf if r.get("provenance")):
        prov = rec["provenance"]
        bad = [p for c in prov.get("checked", []) for p in c.get("pairs", []) if p["verdict"] == "differs"]
        bad_blob = [o for o in prov.get("ollama", []) if not o["same"]]
        if bad or bad_blob:
            lines = [f"{Path(p['local']).name}: local {p['size']:,} B vs {p['remote']} {p.get('remote_size') or 0:,} B" for p in bad] + [f"{o['local']}: sha256 is not {o['digest']}" for o in bad_blob]
            out.append(error(f"{_label(rec)} differs from the published file", "; ".join(lines), fix="Download the file again; a partial or altered copy gives load errors or garbage.", evidence=lines))
        elif prov.get("match"):
            m = prov["match"]
            out.append(info(f"{_label(rec)} matches {m['repo']}" + (f"@{m['sha'][:12]}" if m.get("sha") else "") + f" (by {m['by']})"))
        elif prov.get("ollama"):
            out.append(info(f"{_label(rec)} is intact: its sha256 matches Ollama's digest", "Which hub repo it came from is not recorded in the blob."))
        else:
            asked = ", ".join(f"{c['repo']} ({c['status']})" for c in prov.get("checked", [])) or prov.get("skipped") or "no candidate repo (pass --repo)"
            out.append(warning(f"{_label(rec)} matches no known published file", f"Asked: {asked}.", fix="Pass `--repo <org/name>` to compare against the repo you downloaded from."))
    return out


@check("V4D412", title="GGUF carries a tokenizer and a chat template", category="gguf",
       troubleshooting="no-chat-template", sources=["https://github.com/vllm-project/vllm/issues/39279", "https://unsloth.ai/docs/jp/moderu/deepseek-v4"])
def gguf_chat_template(gguf):
    """Without `tokenizer.chat_template`, llama-server formats chats wrongly; without tokens it cannot load."""
    out = []
    for rec in _main_models(gguf):
        if rec.get("architecture") and not rec.get("has_tokenizer"):
            out.append(error(f"{_label(rec)} has no tokenizer (tokenizer.ggml.tokens)", "llama.cpp cannot load a model without its vocabulary.", fix="Use a complete GGUF (the first shard carries the tokenizer)."))
        elif rec.get("architecture") and not rec.get("has_chat_template"):
            out.append(warning(f"{_label(rec)} has no chat template", "V4 ships no Jinja template; chats are formatted wrongly without one.",
                               fix="Pass a template: `llama-server --jinja --chat-template-file <deepseek-v4.jinja>` (Unsloth publishes a fixed one), or use a GGUF that embeds it."))
    return out
