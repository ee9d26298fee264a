"""A GGUF repo's record for one named quant (`hf.co/unsloth/DeepSeek-V4-Flash-GGUF:UD-IQ1_S`).

Ollama and `llama-server -hf` name a quant after the repo; its size is that file's, from the record's
`quants` list, never the repo's default quant's. A quant the knowledge base has no size for keeps no size
(checks that need one say why they skip). Provenance fields (fork-only, ds4-only) stay with the record.
"""

from __future__ import annotations

from typing import Any


def quant_of(ref: str | None) -> str | None:
    """`hf.co/OWNER/REPO:QUANT` or `OWNER/REPO:QUANT` -> "QUANT"; None for anything else (paths, tags-less names)."""
    if not ref:
        return None
    text = ref.strip().rstrip("/")
    for prefix in ("https://huggingface.co/", "huggingface.co/", "hf.co/"):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
            break
    if text.count("/") != 1 or ":" not in text.split("/", 1)[1]:
        return None
    quant = text.rsplit(":", 1)[1]
    return quant or None


def with_quant(record: dict[str, Any], quant: str | None) -> dict[str, Any]:
    """The record for one quant of a GGUF repo; the record itself when no quant is named or it is not a GGUF repo."""
    if not quant or record.get("format") != "gguf" or record.get("quant"):
        return record
    q = next((q for q in record.get("quants", []) if q["name"].lower() == quant.lower()), None)
    name = q["name"] if q else quant
    out = {k: v for k, v in record.items() if k not in ("disk_bytes", "disk_approx")}
    out.update(quant=name, name=f"{record['name']} {name}")
    if q and q.get("bytes"):
        out["disk_bytes"] = q["bytes"]
        if q.get("approx"):
            out["disk_approx"] = True
    else:
        out["size_unknown"] = f"no size is recorded for the {name} quant of {record['repo']}"
    return out
