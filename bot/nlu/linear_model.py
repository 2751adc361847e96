"""The trained classifier in a compact form for inference: vocabularies, idf and weights.

scikit-learn trains the model (``embedded.build_pipeline``); answering a child needs only
the arithmetic of its TF-IDF features and linear decision function. Keeping that arithmetic
here means the running bot never imports scikit-learn (≈ 70 MB and 0.7 s of start-up) and
the cached model is a plain ``.npz`` file rather than a pickle. ``tests/test_nlu.py`` checks
that these probabilities equal scikit-learn's own, example by example.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.nlu.text import fold

FORMAT = 1
_WHITE_SPACES = re.compile(r"\s\s+")
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Tfidf:
    """One ``TfidfVectorizer(preprocessor=fold, sublinear_tf=True, norm="l2")``."""

    analyzer: str  # "char_wb" or "word"
    ngram_range: tuple[int, int]
    token_pattern: str | None
    vocabulary: dict[str, int]
    idf: Floats

    def ngrams(self, text: str) -> list[str]:
        doc = fold(text)
        lo, hi = self.ngram_range
        if self.analyzer == "char_wb":
            doc = _WHITE_SPACES.sub(" ", doc)
            grams: list[str] = []
            for word in doc.split():
                w = " " + word + " "
                for n in range(lo, hi + 1):
                    offset = 0
                    grams.append(w[offset : offset + n])
                    while offset + n < len(w):
                        offset += 1
                        grams.append(w[offset : offset + n])
                    if offset == 0:  # a short word counts once
                        break
            return grams
        tokens = re.findall(self.token_pattern or r"(?u)\b\w\w+\b", doc)
        grams = list(tokens) if lo == 1 else []
        for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams

    def features(self, text: str) -> dict[int, float]:
        """Column → L2-normalised sublinear tf-idf weight, for the known n-grams of ``text``."""
        counts = Counter(self.vocabulary[g] for g in self.ngrams(text) if g in self.vocabulary)
        weights = {col: (1.0 + math.log(tf)) * float(self.idf[col]) for col, tf in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {col: w / norm for col, w in weights.items()} if norm else {}


@dataclass(frozen=True)
class LinearModel:
    labels: tuple[str, ...]
    vectorizers: tuple[Tfidf, ...]
    coef: Floats  # (classes, features)
    intercept: Floats  # (classes,)

    def predict_proba(self, text: str) -> Floats:
        """One-vs-rest logistic probabilities, normalised over classes (as scikit-learn)."""
        columns: list[int] = []
        values: list[float] = []
        offset = 0
        for vectorizer in self.vectorizers:
            for col, value in vectorizer.features(text).items():
                columns.append(offset + col)
                values.append(value)
            offset += len(vectorizer.vocabulary)
        scores = self.coef[:, columns] @ np.asarray(values) + self.intercept
        prob: Floats = 1.0 / (1.0 + np.exp(-scores))
        if len(self.labels) == 2:
            p = float(prob[0])
            return np.array([1.0 - p, p])
        total = prob.sum()
        return prob / total if total else np.full(len(self.labels), 1.0 / len(self.labels))

    # -- conversion and storage ------------------------------------------------------------
    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LinearModel:
        union, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
        vectorizers = []
        for _, v in union.transformer_list:
            if not (v.sublinear_tf and v.norm == "l2" and v.use_idf and v.preprocessor is fold):
                raise ValueError("unsupported vectorizer settings")
            vectorizers.append(
                Tfidf(
                    analyzer=v.analyzer,
                    ngram_range=tuple(v.ngram_range),
                    token_pattern=v.token_pattern if v.analyzer == "word" else None,
                    vocabulary={k: int(i) for k, i in v.vocabulary_.items()},
                    idf=np.asarray(v.idf_, dtype=np.float64),
                )
            )
        return cls(
            labels=tuple(str(c) for c in classifier.classes_),
            vectorizers=tuple(vectorizers),
            coef=np.asarray(classifier.coef_, dtype=np.float64),
            intercept=np.asarray(classifier.intercept_, dtype=np.float64),
        )

    def save(self, path: Path) -> None:
        """Write atomically: a half-written cache file is never read."""
        meta = {
            "format": FORMAT,
            "labels": list(self.labels),
            "vectorizers": [
                {
                    "analyzer": v.analyzer,
                    "ngram_range": list(v.ngram_range),
                    "token_pattern": v.token_pattern,
                    "vocabulary": v.vocabulary,
                }
                for v in self.vectorizers
            ],
        }
        arrays: dict[str, Any] = {f"idf{i}": v.idf for i, v in enumerate(self.vectorizers)}
        arrays.update(meta=np.array(json.dumps(meta)), coef=self.coef, intercept=self.intercept)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError("model cache format changed")
            vectorizers = tuple(
                Tfidf(
                    analyzer=v["analyzer"],
                    ngram_range=(int(v["ngram_range"][0]), int(v["ngram_range"][1])),
                    token_pattern=v["token_pattern"],
                    vocabulary=v["vocabulary"],
                    idf=np.array(data[f"idf{i}"]),
                )
                for i, v in enumerate(meta["vectorizers"])
            )
            return cls(
                labels=tuple(meta["labels"]),
                vectorizers=vectorizers,
                coef=np.array(data["coef"]),
                intercept=np.array(data["intercept"]),
            )
