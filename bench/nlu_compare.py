"""Choose the embedded NLU method on evidence: compare classifiers on the held-out set, and
tune the out-of-scope threshold by cross-validation on the training data only.

Usage: python bench/nlu_compare.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

from bot import intents
from bot.nlu.embedded import EmbeddedConfig, build_pipeline
from bot.nlu.text import fold
from bot.nlu.training_data import load_dir, load_files

REPO = Path(__file__).resolve().parent.parent


def char(lo: int = 2, hi: int = 5) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(lo, hi), sublinear_tf=True, preprocessor=fold
    )


def word() -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word", ngram_range=(1, 2), sublinear_tf=True, preprocessor=fold
    )


CANDIDATES: dict[str, Any] = {
    "sgd-logistic char2-5+word (shipped)": lambda: build_pipeline(EmbeddedConfig()),
    "logreg(lbfgs) char2-5+word": lambda: make_pipeline(
        make_union(char(), word()), LogisticRegression(C=10, max_iter=3000)
    ),
    "logreg char2-5 only": lambda: make_pipeline(char(), LogisticRegression(C=10, max_iter=3000)),
    "logreg word1-2 only": lambda: make_pipeline(word(), LogisticRegression(C=10, max_iter=3000)),
    "linearSVC calibrated char+word": lambda: make_pipeline(
        make_union(char(), word()), CalibratedClassifierCV(LinearSVC(C=0.5), cv=3)
    ),
    "complementNB char+word": lambda: make_pipeline(
        make_union(char(), word()), ComplementNB(alpha=0.3)
    ),
}


def apply_threshold(labels: np.ndarray, proba: np.ndarray, threshold: float) -> list[str]:
    best = proba.argmax(axis=1)
    return [
        labels[i] if proba[row, i] >= threshold else intents.FALLBACK for row, i in enumerate(best)
    ]


def main() -> None:
    train = load_dir(REPO / "nlu" / "data")
    test = load_files([REPO / "tests" / "data" / "nlu_heldout.yml"])
    x, y = [e.text for e in train.examples], [e.intent for e in train.examples]
    xt, yt = [e.text for e in test.examples], [e.intent for e in test.examples]
    results = {}
    for name, factory in CANDIDATES.items():
        started = time.perf_counter()
        model = factory().fit(x, y)
        fit_s = time.perf_counter() - started
        proba = model.predict_proba(xt)
        labels = model.classes_
        raw = f1_score(yt, labels[proba.argmax(axis=1)], average="macro")
        latencies = []
        for text in xt[:300]:
            t0 = time.perf_counter()
            model.predict_proba([text])
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        results[name] = {
            "heldout_macro_f1_no_threshold": round(raw, 4),
            "fit_seconds": round(fit_s, 2),
            "predict_ms_p50": round(latencies[len(latencies) // 2], 2),
            "predict_ms_p95": round(latencies[int(len(latencies) * 0.95)], 2),
        }
    # Threshold for the shipped model, tuned by 5-fold CV on training data only.
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    cv_proba = cross_val_predict(
        build_pipeline(EmbeddedConfig()), x, y, cv=folds, method="predict_proba"
    )
    labels = np.array(sorted(set(y)))
    sweep = {}
    for threshold in np.arange(0.10, 0.61, 0.05):
        sweep[round(float(threshold), 2)] = round(
            f1_score(y, apply_threshold(labels, cv_proba, threshold), average="macro"), 4
        )
    best_threshold = max(sweep, key=lambda t: sweep[t])
    model = build_pipeline(EmbeddedConfig()).fit(x, y)
    heldout_at_best = f1_score(
        yt,
        apply_threshold(model.classes_, model.predict_proba(xt), best_threshold),
        average="macro",
    )
    print(
        json.dumps(
            {
                "training_examples": len(x),
                "heldout_examples": len(xt),
                "candidates": results,
                "cv_threshold_sweep_macro_f1": sweep,
                "cv_best_threshold": best_threshold,
                "heldout_macro_f1_at_cv_best_threshold": round(heldout_at_best, 4),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
