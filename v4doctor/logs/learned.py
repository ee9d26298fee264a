"""The learned fallback: a linear classifier over TF-IDF word features of a log's failure lines, plain Python.

Trained by `tools/train_diagnose.py` (scikit-learn, a `[train]` extra, never a runtime dependency) on the
labelled corpus; its vocabulary, IDF and weights ship as `knowledge/diagnose_model.json`. It speaks in
place of an `other` (a failure neither the signatures nor the concept rules know) and says "likely X (p)" with a
confidence below every rule's, so it can never turn a healthy log into an error; after a rule's answer it may add
its own, different cause as a last candidate ("Also possible: …"), which never changes the top answer.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path

from v4doctor.logs.diagnosis import Item
from v4doctor.logs.normalise import Window
from v4doctor.logs.reader import evidence_text

MODEL = Path(__file__).resolve().parent.parent / "knowledge" / "diagnose_model.json"
# Below this the fallback stays silent. Chosen from `python tools/train_diagnose.py --cv 5` (folds by thread, 958
# labelled logs, 2026-12-03): of the failures whose best cause the classifier scores 0.1-0.2, 42 % are that cause;
# 0.0-0.1, 12 %. An `other` answer in place of an unknown wording was right 3 times in 19 on the held-out quarters
# (`python bench/diagnose_accuracy.py --totals --by-tier --corpus fixtures/logs/holdout`), so a lead from 0.1 up is
# the better answer, unless the classifier finds `other` itself at least as likely.
MIN_P = 0.1
NOT_A_CAUSE = ("healthy", "other", "insufficient_evidence")
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*|\d+")


def _tokens(text: str) -> list[str]:
    return ["0" if t.isdigit() else t for t in _TOKEN.findall(text)]


def features(win: Window) -> dict[str, float]:
    """Counts of word unigrams and bigrams of the failure lines, and the last traceback's module paths."""
    counts: dict[str, float] = {}
    for line in win.failures[:60] + win.failures[-60:]:
        words = _tokens(line.norm)
        for i, w in enumerate(words):
            counts[w] = counts.get(w, 0) + 1
            if i:
                key = words[i - 1] + " " + w
                counts[key] = counts.get(key, 0) + 1
    for path in win.frames:
        for part in re.split(r"[/.]", path):
            if part and part != "py":
                key = "frame:" + part
                counts[key] = counts.get(key, 0) + 1
    return counts


@functools.lru_cache(maxsize=1)
def load_model() -> dict | None:
    try:
        return json.loads(MODEL.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def predict(win: Window, model: dict | None = None) -> list[tuple[str, float]]:
    """(category, probability) for every class, most likely first; empty without a model or features."""
    model = model or load_model()
    counts = features(win)
    if model is None or not counts:
        return []
    idf, coef, classes = model["idf"], model["coef"], model["classes"]
    vec = {f: (1 + math.log(c)) * idf[f] for f, c in counts.items() if f in idf}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    scores = list(model["intercept"])
    for f, v in vec.items():
        for k, w in coef.get(f, {}).items():  # sparse: class index -> weight
            scores[int(k)] += w * v / norm
    top = max(scores)
    exp = [math.exp(s - top) for s in scores]
    total = sum(exp)
    return sorted(((c, e / total) for c, e in zip(classes, exp)), key=lambda x: -x[1])


HEALTHY_SHARE = 0.5  # a lead needs at least half the probability the classifier gives to "these lines are harmless"
SECOND_P = 0.25  # a second opinion beside a rule's answer: only a cause the classifier gives at least this


def learned_item(win: Window, min_p: float = MIN_P) -> Item | None:
    """"likely X (p)" for an unrecognised failure, or None when the model is unsure or says no cause."""
    ranked = predict(win)
    best = causes(ranked)
    p = dict(ranked)
    if not best or best[0][1] < min_p or best[0][1] < max(p.get("other", 0), HEALTHY_SHARE * p.get("healthy", 0)):
        return None  # unsure, `other` (a failure no category explains) is as likely, or the lines read mostly as harmless
    return _item(win, *best[0])


def second_opinion(win: Window, said: set[str], below: float) -> Item | None:
    """The classifier's most likely cause when no item says it yet (p >= SECOND_P), as a candidate listed after
    the rules' answers (confidence below `below`): what to look at next when the first answer is not it."""
    best = causes(predict(win))
    if not best or best[0][1] < SECOND_P or best[0][0] in said:
        return None
    item = _item(win, *best[0])
    item.confidence = max(0.05, min(item.confidence, round(below - 0.05, 2)))
    item.title = "Also possible: " + item.title[0].lower() + item.title[1:]
    return item


def causes(ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The ranked classes that name a cause (not healthy, other or insufficient evidence)."""
    return [(c, p) for c, p in ranked if c not in NOT_A_CAUSE]


def _item(win: Window, category: str, p: float) -> Item:
    line = win.exception or (win.failures[0] if win.failures else None)
    evidence = [(line.number, evidence_text(line.raw))] if line else []
    return Item(
        id="DIAG-LEARNED", category=category, severity="error", confidence=round(0.1 + 0.2 * p, 2),
        title=f"Likely {category} (p={p:.2f}, learned from labelled logs; no rule knows this wording)",
        cause="No signature or concept rule knows these error lines; a classifier trained on labelled public logs "
              f"finds them most like {category} failures. Treat it as a lead, not a diagnosis.",
        fix="Check the evidence lines against that category in docs/diagnose.md; `v4doctor explain` and "
            "`v4doctor run` on the host confirm or rule it out.",
        troubleshooting=None, evidence=evidence, line=line.number if line else 0, matched=["DIAG-LEARNED"],
    )
