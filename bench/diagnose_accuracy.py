"""Top-1 accuracy of `v4doctor diagnose` on the corpus of real users' logs (fixtures/logs/corpus/).

Each corpus file is a log pasted in a public issue, with header comments saying what the right
answer is: `# source: URL`, `# expect: <category>` (the root cause, or `healthy`), optionally
`# expect-also: <category>`, `# expect-values: key=value ...` (numbers the fix must carry) and
`# last-line-is-not-the-cause: yes` (the root cause is printed above the log's last error line).
Prints one row per case (case, expected, got, confidence, verdict) and the top-1 accuracy.

    python bench/diagnose_accuracy.py                              # the table and top-1 accuracy
    python bench/diagnose_accuracy.py --without signatures_c.toml  # the same before group C
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "logs" / "corpus"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Case:
    """One corpus file and the answer its header expects. Sample header line: `# expect: oom_weights`."""

    name: str
    text: str
    source: str
    expect: str
    also: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    buried: bool = False  # the root cause is printed above the last error line


def parse_case(path: Path) -> Case:
    """Read a corpus file's `# key: value` header comments (the header ends at the first other line)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    head: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("# ") or ":" not in line:
            break
        key, _, value = line[2:].partition(":")
        head.setdefault(key.strip(), []).append(value.strip())
    values = dict(v.split("=", 1) for vs in head.get("expect-values", []) for v in vs.split())
    return Case(path.name, text, head.get("source", [""])[0], head.get("expect", [""])[0],
                head.get("expect-also", []), values, head.get("last-line-is-not-the-cause", [""])[0] == "yes")


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    """Every `*.log` of the corpus, sorted by name."""
    return [parse_case(p) for p in sorted(corpus.glob("*.log"))]


def top(case: Case, diagnosis) -> tuple[str, float]:
    """The answer as (category, confidence): the top diagnosis's category, or `healthy` when there is none.

    A healthy case also counts as answered `healthy` when only warnings/infos were listed (`healthy: true`)."""
    if not diagnosis.items or (case.expect == "healthy" and diagnosis.healthy):
        return "healthy", 1.0
    item = diagnosis.items[0]
    return item.category, item.confidence


def verdict(case: Case, diagnosis) -> list[str]:
    """What is wrong with a diagnosis of this case (empty when it is right)."""
    got, _ = top(case, diagnosis)
    wrong = [] if got == case.expect else [f"top is {got}, expected {case.expect}"]
    categories = {i.category for i in diagnosis.items}
    wrong += [f"{c} not listed" for c in case.also if c not in categories]
    fixes = " ".join(f"{i.fix} {i.fix_command or ''}" for i in diagnosis.items[:1])
    wrong += [f"{k}={v} not in the fix" for k, v in case.values.items() if v not in fixes]
    return wrong


def _without(names: list[str]) -> None:
    """Drop the signatures of the named files (to measure accuracy before they were added)."""
    from v4doctor.logs import signatures

    kept = signatures.load_signatures()
    kept = tuple(s for s in kept if s.file not in names)
    signatures.load_signatures = lambda: kept  # diagnose_chunks looks it up at call time; this process only


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--without", nargs="*", default=[], help="signature files to leave out, e.g. signatures_c.toml")
    args = parser.parse_args(argv)
    if args.without:
        _without(args.without)
    from v4doctor.logs import diagnose_text

    cases = load_cases()
    rows, right, full = [], 0, 0
    for case in cases:
        d = diagnose_text(case.text)
        got, conf = top(case, d)
        ok = got == case.expect
        wrong = verdict(case, d)
        right += ok
        full += not wrong
        rows.append((case.name, case.expect, got, f"{conf:.2f}", "ok" if ok else "MISS",
                     "; ".join(w for w in wrong if not w.startswith("top is"))))
    _print_table(("case", "expected", "got", "conf", "", "other checks"), rows)
    print(f"\ntop-1 accuracy: {right}/{len(cases)} = {right / max(len(cases), 1):.1%}")
    print(f"all checks (top-1, expect-also, expect-values): {full}/{len(cases)}")
    return 0


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
