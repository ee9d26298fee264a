"""Split a new batch of labelled logs by source thread into the fit part and the held-out part.

Each file of the batch (`fixtures/logs/incoming/<miner>/*.log`) names its thread in its first header
line (`# source: https://github.com/owner/repo/issues/N`). The rule is fixed and needs no random state:
a thread whose `sha256(url) % 4 == 0` is held out (about a quarter of the threads), every other one is
fit. So all logs of one thread land on the same side, and rerunning the split gives the same answer.
The file moves to `fixtures/logs/holdout/` or `fixtures/logs/corpus/` with `# round: N` added to its
header (after the source line); a name already taken gets the miner's folder name appended.
The tool reads only the `# source:` line: who writes rules must never open the held-out files (they
are only ever run through `bench/diagnose_accuracy.py --corpus fixtures/logs/holdout`).

    python tools/corpus_split.py --round 4 fixtures/logs/incoming/m1 fixtures/logs/incoming/m2 fixtures/logs/incoming/m3
    python tools/corpus_split.py --round 4 --dry-run fixtures/logs/incoming/m1   # counts only, nothing moved
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fixtures" / "logs" / "corpus"
HOLDOUT = ROOT / "fixtures" / "logs" / "holdout"


def source_url(path: Path) -> str | None:
    """The `# source:` URL of a labelled log (its first header line), or None."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.startswith("#"):
                return None
            if line.startswith("# source:"):
                return line.split(":", 1)[1].strip()
    return None


def held_out(url: str) -> bool:
    """The fixed rule: a quarter of the threads, by the hash of their URL."""
    return int(hashlib.sha256(url.encode("utf-8")).hexdigest(), 16) % 4 == 0


def with_round(text: str, round_no: int) -> str:
    """The text with `# round: N` as its second header line (an existing round line is replaced)."""
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith("# round:")]
    return "".join(lines[:1] + [f"# round: {round_no}\n"] + lines[1:])


def destination(path: Path, folder: Path) -> Path:
    target = folder / path.name
    return target if not target.exists() else folder / f"{path.stem}-{path.parent.name}{path.suffix}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders of the new batch")
    parser.add_argument("--round", type=int, required=True, dest="round_no", help="the round number to record")
    parser.add_argument("--dry-run", action="store_true", help="print the counts, move nothing")
    args = parser.parse_args(argv)
    files = sorted(p for folder in args.folders for p in folder.glob("*.log"))
    if not files:
        print("error: no *.log files in " + ", ".join(map(str, args.folders)), file=sys.stderr)
        return 2
    moved = {"fit": 0, "holdout": 0}
    threads: dict[str, set[str]] = {"fit": set(), "holdout": set()}
    for path in files:
        url = source_url(path)
        if not url:
            print(f"skipped (no # source: line): {path}", file=sys.stderr)
            continue
        side = "holdout" if held_out(url) else "fit"
        moved[side] += 1
        threads[side].add(url)
        if args.dry_run:
            continue
        folder = HOLDOUT if side == "holdout" else CORPUS
        folder.mkdir(parents=True, exist_ok=True)
        target = destination(path, folder)
        target.write_text(with_round(path.read_text(encoding="utf-8", errors="replace"), args.round_no), encoding="utf-8")
        path.unlink()
    print(f"round {args.round_no}: {moved['fit']} logs from {len(threads['fit'])} threads to fit, "
          f"{moved['holdout']} logs from {len(threads['holdout'])} threads held out"
          + (" (dry run: nothing moved)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
