"""Train the learned fallback of `v4doctor diagnose` and write it as plain data (knowledge/diagnose_model.json).

TF-IDF over the word unigrams/bigrams of each log's failure lines and its last traceback's module paths
(`v4doctor.logs.learned.features`, the runtime's own feature code), then a multinomial logistic
regression. Labels: the `# expect:` header of each corpus file, and for the signature samples
(fixtures/logs/*.log) the category of the signature that lists them (`healthy-*.log`: healthy).
Never trains on fixtures/logs/holdout/ (the held-out logs are only ever run through the bench).

    pip install -e '.[train]'
    python tools/train_diagnose.py                      # writes v4doctor/knowledge/diagnose_model.json
    python tools/train_diagnose.py --cv 5               # also prints a 5-fold cross-validated top-1 (folds by
                                                        # thread) and how often its best cause is right per probability
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
LOGS = ROOT / "fixtures" / "logs"
OUT = ROOT / "v4doctor" / "knowledge" / "diagnose_model.json"
MIN_WEIGHT = 0.1  # smaller weights are left out of the shipped file (sparse; the cross-validation scores the pruned model)


def labelled() -> list[tuple[str, str, str]]:
    """(text, category, source thread) of every labelled log the model may learn from."""
    sys.path.insert(0, str(ROOT / "bench"))
    from diagnose_accuracy import load_cases
    from v4doctor.logs.signatures import load_signatures

    out = [(c.body, c.expect, c.source) for c in load_cases(LOGS / "corpus") if c.expect]
    by_sample = {}
    for sig in load_signatures():
        for sample in sig.samples:
            by_sample.setdefault(Path(sample).name, sig.category)
    for path in sorted(LOGS.glob("*.log")):
        category = "healthy" if path.name.startswith("healthy") else by_sample.get(path.name)
        if category:
            out.append((_body(path.read_text(encoding="utf-8", errors="replace")), category, path.name))
    return out


def _body(text: str) -> str:
    """A log without its header comments (`# source:` and the description)."""
    lines = text.splitlines(keepends=True)
    i = next((k for k, line in enumerate(lines) if not (line.startswith("# ") or line.rstrip("\r\n") == "#")), len(lines))  # not BuildKit's `#11 …`
    return "".join(lines[i:])


def tf(counts: dict[str, float]) -> dict[str, float]:
    return {f: 1 + math.log(c) for f, c in counts.items()}


def fit(docs: list[dict[str, float]], labels: list[str], c: float = 4.0) -> dict:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    df: dict[str, int] = {}
    for d in docs:
        for f in d:
            df[f] = df.get(f, 0) + 1
    n = len(docs)
    idf = {f: math.log((1 + n) / (1 + k)) + 1 for f, k in df.items() if k >= 1}
    vec = DictVectorizer()
    x = normalize(vec.fit_transform([{f: v * idf[f] for f, v in tf(d).items()} for d in docs]))
    model = LogisticRegression(C=c, max_iter=2000).fit(x, labels)
    classes = [str(k) for k in model.classes_]
    coef = {}
    for j, f in enumerate(vec.feature_names_):
        ws = {str(k): round(float(model.coef_[k][j]), 3) for k in range(len(classes)) if abs(model.coef_[k][j]) >= MIN_WEIGHT}
        if ws:
            coef[f] = ws  # sparse: class index -> weight
    return {"classes": classes, "intercept": [round(float(b), 4) for b in model.intercept_],
            "idf": {f: round(idf[f], 4) for f in coef}, "coef": coef}


def cross_validate(k_folds: int, data, wins, docs, labels) -> None:
    """Folds by source thread (all logs of one thread on one side). Prints the classifier's top-1 alone and, over
    the failure logs, how often its most likely cause (not healthy/other/insufficient) is right per 0.1 of its
    probability: the table `learned.MIN_P` was chosen from."""
    import hashlib

    from v4doctor.logs.learned import causes as cause_classes, predict

    fold = [int(hashlib.sha256(src.encode()).hexdigest(), 16) % k_folds for _, _, src in data]
    right, bins = 0, {}
    for k in range(k_folds):
        train = [i for i in range(len(docs)) if fold[i] != k]
        model = fit([docs[i] for i in train], [labels[i] for i in train])
        for i in (i for i in range(len(docs)) if fold[i] == k):
            ranked = predict(wins[i], model)
            right += bool(ranked) and ranked[0][0] == labels[i]
            causes = cause_classes(ranked)
            if causes and labels[i] not in ("healthy", "insufficient_evidence"):
                b = bins.setdefault(min(int(causes[0][1] * 10), 9), [0, 0])
                b[0], b[1] = b[0] + 1, b[1] + (causes[0][0] == labels[i])
    print(f"{k_folds}-fold cross-validated top-1 of the classifier alone (folds by thread): "
          f"{right}/{len(docs)} = {right / len(docs):.1%}")
    print("best cause's probability  failure logs  that cause right")
    for b, (n, ok) in sorted(bins.items()):
        print(f"{b / 10:.1f}-{(b + 1) / 10:.1f}{'':18}{n:>5}{'':9}{ok / n:.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--cv", type=int, default=0, help="also print a k-fold cross-validated top-1")
    args = parser.parse_args(argv)
    from v4doctor.logs.learned import features, predict
    from v4doctor.logs.tiers import text_window

    data = labelled()
    wins = [text_window(text) for text, _, _ in data]
    docs = [features(w) for w in wins]
    labels = [label for _, label, _ in data]
    if args.cv:
        cross_validate(args.cv, data, wins, docs, labels)
    model = fit(docs, labels)
    args.out.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(f"{len(docs)} labelled logs, {len(model['classes'])} classes, {len(model['coef'])} features -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
