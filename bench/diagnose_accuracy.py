"""Top-1 accuracy of `v4doctor diagnose` on the corpus of real users' logs (fixtures/logs/corpus/).

Each corpus file is a log pasted in a public issue, with header comments saying what the right
answer is: `# source: URL`, `# expect: <category>` (the root cause, or `healthy`), optionally
`# expect-also: <category>`, `# expect-values: key=value ...` (numbers the fix must carry) and
`# last-line-is-not-the-cause: yes` (the root cause is printed above the log's last error line).
Prints one row per case (case, expected, got, confidence, verdict) and the top-1 accuracy.

    python bench/diagnose_accuracy.py                              # the table and top-1 accuracy
    python bench/diagnose_accuracy.py --without signatures_c.toml  # the same before group C
    python bench/diagnose_accuracy.py --corpus fixtures/logs/holdout --totals  # a held-out folder: no case shown

Scoring: top-1 is right when the top diagnosis names the expected category; a `healthy` case is right
when no diagnosis has severity error (no alarm), and it is a false alarm otherwise; an
`insufficient_evidence` case (the log stops before its failure) is right only when diagnose says so,
never when it calls the log healthy. Top-3: the expected category is among the first three diagnoses.
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
    round: int = 0  # the measuring round that brought it (`# round: N`; 0: rounds 1-3, before the header existed)

    @property
    def body(self) -> str:
        """The log without its header comments (they name the answer: diagnose must never read them)."""
        lines = self.text.splitlines(keepends=True)
        i = 0
        while i < len(lines) and _header(lines[i]):
            i += 1
        return "".join(lines[i:])


def _header(line: str) -> bool:
    """A header comment (`# key: value`, `# …`, a bare `#`): not a log line such as Docker BuildKit's `#11 509.5 …`."""
    return line.startswith("# ") or line.rstrip("\r\n") == "#"


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
    round_no = head.get("round", ["0"])[0]
    return Case(path.name, text, head.get("source", [""])[0], head.get("expect", [""])[0],
                head.get("expect-also", []), values, head.get("last-line-is-not-the-cause", [""])[0] == "yes",
                int(round_no) if round_no.isdigit() else 0)


def load_cases(corpus: Path = CORPUS) -> list[Case]:
    """Every `*.log` of the corpus, sorted by name."""
    return [parse_case(p) for p in sorted(corpus.glob("*.log"))]


def top(case: Case, diagnosis) -> tuple[str, float]:
    """The answer as (category, confidence): the top diagnosis's category, `healthy` when there is none, and
    `insufficient_evidence` when diagnose says the log stops before any failure or sign of health.

    A healthy case also counts as answered `healthy` when no diagnosis has severity error (`healthy: true`):
    no alarm is what a healthy log asks for."""
    if not diagnosis.items:
        return "healthy", 1.0
    item = diagnosis.items[0]
    if case.expect == "healthy" and diagnosis.healthy:
        return "healthy", 1.0
    return item.category, item.confidence


def top3(case: Case, diagnosis) -> bool:
    """The expected category is among the first three diagnoses (or the top-1 answer)."""
    return top(case, diagnosis)[0] == case.expect or case.expect in [i.category for i in diagnosis.items[:3]]


def tier(diagnosis) -> str:
    """Which tier gave the top answer: an exact or loose signature, a concept rule, the output-quality or slow
    detectors, the launch plan, the learned fallback, `other`, insufficient evidence, or no alarm at all."""
    if not diagnosis.items or diagnosis.healthy and diagnosis.items[0].severity != "error":
        return "no alarm"
    i = diagnosis.items[0].id
    if i == "SIG-OTHER":
        return "unrecognised (other)"
    for prefix, name in (("CONCEPT-", "concept rule"), ("DIAG-LEARNED", "learned fallback"),
                         ("DIAG-INSUFFICIENT", "insufficient evidence"), ("DIAG-OUTPUT", "output quality"),
                         ("DIAG-SLOW", "slow detectors"), ("DIAG-", "plan/derived"), ("SIG-", "signature"), ("V4D", "host/launch check")):
        if i.startswith(prefix):
            return name
    return "other id"


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
    parser.add_argument("--corpus", nargs="*", type=Path, default=[CORPUS],
                        help="folders of labelled logs (default fixtures/logs/corpus); several are pooled")
    parser.add_argument("--quiet", action="store_true", help="only the misses, the per-category table and the totals")
    parser.add_argument("--exact-only", action="store_true",
                        help="the exact signatures and host checks only (the tiers after them off), for comparison")
    parser.add_argument("--totals", action="store_true",
                        help="only the per-category table and the totals: no case names (for a held-out set)")
    parser.add_argument("--by-tier", action="store_true",
                        help="also count right/wrong top-1 answers by the tier that gave them (counts only: safe for a held-out set)")
    parser.add_argument("--round", type=int, dest="round_no", default=None,
                        help="only the logs of this measuring round (`# round: N`; 0: rounds 1-3)")
    args = parser.parse_args(argv)
    for folder in args.corpus:
        if not folder.is_dir():
            print(f"error: --corpus {folder}: not a folder", file=sys.stderr)
            return 2
    if args.without:
        _without(args.without)
    if args.exact_only:
        import v4doctor.logs.tiers as tiers

        tiers.refine = lambda scan, items, rerank: items  # diagnose_chunks looks it up at call time; this process only
    from v4doctor.logs import diagnose_text

    cases = [c for folder in args.corpus for c in load_cases(folder)
             if args.round_no is None or c.round == args.round_no]
    if not cases:
        print("error: no labelled logs to score" + (f" of round {args.round_no}" if args.round_no is not None else ""),
              file=sys.stderr)
        return 2
    rows, per, tiers = [], {}, {}
    right = full = in3 = alarms = said_healthy = 0
    for case in cases:
        d = diagnose_text(case.body)
        got, conf = top(case, d)
        ok = got == case.expect
        wrong = verdict(case, d)
        hit3 = top3(case, d)
        right += ok
        in3 += hit3
        full += not wrong
        alarms += case.expect == "healthy" and not d.healthy
        said_healthy += case.expect == "insufficient_evidence" and got == "healthy"
        t = tiers.setdefault(tier(d), [0, 0])
        t[0], t[1] = t[0] + 1, t[1] + ok
        n = per.setdefault(case.expect, [0, 0, 0])
        n[0], n[1], n[2] = n[0] + 1, n[1] + ok, n[2] + hit3
        if not args.totals and not (args.quiet and ok):
            rows.append((case.name, case.expect, got, f"{conf:.2f}", "ok" if ok else "MISS",
                         "; ".join(w for w in wrong if not w.startswith("top is"))))
    if rows:
        _print_table(("case", "expected", "got", "conf", "", "other checks"), rows)
        print()
    _print_table(("expected category", "cases", "top-1", "top-3"),
                 [(k, str(v[0]), str(v[1]), str(v[2])) for k, v in sorted(per.items())])
    if args.by_tier:
        print()
        _print_table(("tier of the top answer", "cases", "right", "precision"),
                     [(k, str(v[0]), str(v[1]), f"{v[1] / v[0]:.0%}") for k, v in sorted(tiers.items(), key=lambda kv: -kv[1][0])])
    total = max(len(cases), 1)
    healthy = sum(c.expect == "healthy" for c in cases)
    print(f"\ntop-1 accuracy: {right}/{len(cases)} = {right / total:.1%}")
    print(f"top-3 accuracy: {in3}/{len(cases)} = {in3 / total:.1%}")
    print(f"healthy false alarms: {alarms}/{healthy}")
    print(f"insufficient-evidence logs called healthy: {said_healthy}/{sum(c.expect == 'insufficient_evidence' for c in cases)}")
    print(f"all checks (top-1, expect-also, expect-values): {full}/{len(cases)}")
    return 0


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
