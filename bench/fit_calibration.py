"""Calibration of the memory fit against engine-printed figures (fixtures/fit/calibration.toml).

    python bench/fit_calibration.py            # the table: printed, first seen, now, errors
    python bench/fit_calibration.py --markdown # the same as the Markdown table in docs/fit.md

`first_seen` in the fixture is v4doctor's figure as first computed on each row, before any tuning;
"now" is today's fit with the row's `after` settings (stated launch facts, never a fudge factor).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from v4doctor.knowledge.kb import load  # noqa: E402
from v4doctor.launch import fit_llamacpp, fit_sglang  # noqa: E402
from v4doctor.launch.fit import GIB, fit  # noqa: E402

TABLE = ROOT / "fixtures" / "fit" / "calibration.toml"


def rows() -> list[dict]:
    with TABLE.open("rb") as fh:
        return tomllib.load(fh)["row"]


def ours(row: dict, *, tuned: bool = True) -> float:
    """v4doctor's figure for the row's printed quantity."""
    kb = load()
    plan = dict(row["plan"])
    key = plan.pop("model")
    if tuned:
        plan.update(row.get("after", {}))
        key = row.get("after_model", key)
    model = kb.model(key)
    base = kb.find_model(model["base"]) if model.get("base") else None
    gpu = kb.gpu(plan.pop("gpu")) if "gpu" in plan else {"name": ""}  # no GPU named: gpu_mem_gib must be given
    mem = plan.pop("gpu_mem_gib", None) or (gpu["memory_bytes_nvml"] / GIB if gpu.get("memory_bytes_nvml") else float(gpu["memory_gib"]))
    r = fit(model, gpu_mem_gib=mem, engine=row["engine"], engine_version=row["engine_version"], base=base,
            gpu_name=gpu["name"], **plan)
    q = row["quantity"]
    if q == "kv_tokens":
        return r.kv_tokens_per_pool
    if q == "concurrency":
        return r.max_concurrency
    if q == "pool_gib":
        return r.kv_budget_gib_per_gpu
    if q == "bytes_per_token":
        return r.kv_bytes_per_token
    if q == "est_len":
        return r.estimated_max_model_len
    if q == "needed_gib":
        return (r.fixed_bytes_per_seq + math.ceil(r.max_model_len / 256) * 256 * r.kv_bytes_per_token) / GIB
    if q == "weights_gib":
        return r.weights_gib_per_gpu
    if q == "compute_mib":  # llama.cpp "CUDA0 compute buffer size" / the size a failed compute-buffer cudaMalloc asked
        return (r.overhead_gib_per_gpu - fit_llamacpp.CONTEXT_GIB) * 1024
    if q == "free_after_load_gib":
        return mem - fit_sglang.PRELOAD_GAP_GIB - r.weights_gib_per_gpu
    raise ValueError(f"{row['id']}: unknown quantity {q!r}")


def error(value: float, printed: float) -> float:
    return (value - printed) / printed


def summary(errors: list[float]) -> tuple[float, float]:
    absolute = [abs(e) for e in errors]
    return statistics.median(absolute), max(absolute)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--first", action="store_true", help="print the figures as computed now without the rows' `after` (to fill first_seen)")
    args = ap.parse_args(argv)
    table = rows()
    first_err, now_err, scored_first, scored_now, scored_before = [], [], [], [], []
    if args.markdown:
        print("| row | engine | quantity | printed | first seen (err) | before the follow-up (err) | now (err) | note |\n"
              "|---|---|---|---|---|---|---|---|")
    for row in table:
        now = ours(row, tuned=not args.first)
        fe, ne = error(row["first_seen"], row["printed"]), error(now, row["printed"])
        first_err.append(fe)
        now_err.append(ne)
        if not row.get("explained") and not row.get("anchor"):
            scored_first.append(fe)
            scored_now.append(ne)
            scored_before.append(error(row["before_followup"], row["printed"]))
        note = "explained miss" if row.get("explained") else "anchor (fitted on it)" if row.get("anchor") else ("after: " + ", ".join(f"{k}={v}" for k, v in row.get("after", {}).items()) if row.get("after") else "")
        if row.get("after_model"):
            note = f"after: model {row['after_model']}"
        if args.markdown:
            print(f"| [{row['id']}]({row['source'] if row['source'].startswith('http') else '#'}) | {row['engine']} {row['engine_version']} | "
                  f"{row['quantity']} | {row['printed']:,} | {row['first_seen']:,.6g} ({fe:+.1%}) | "
                  f"{row['before_followup']:,.6g} ({error(row['before_followup'], row['printed']):+.1%}) | {now:,.6g} ({ne:+.1%}) | {note} |")
        else:
            print(f"{row['id']:48s} {row['quantity']:20s} printed {row['printed']:>14,.6g}  first {row['first_seen']:>14,.6g} ({fe:+7.1%})  now {now:>14,.6g} ({ne:+7.1%})")
    for name, errs in (("all rows, first seen", first_err), ("all rows, now", now_err),
                       ("scored rows (explained misses and anchors left out), first seen", scored_first),
                       ("scored rows, before the follow-up", scored_before), ("scored rows, now", scored_now)):
        med, worst = summary(errs)
        print(f"{name}: n={len(errs)} median |error| {med:.1%}, worst {worst:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
