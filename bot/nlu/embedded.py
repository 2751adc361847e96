"""The embedded NLU engine: a character n-gram logistic classifier trained from ``nlu/``.

Children write with typos, without æøå, in slang: character n-grams over folded text carry
most of the signal, and a linear model trains in seconds on a laptop. The trained model is
cached on disk keyed by a hash of the training data and the engine settings, so a fresh
``barnebot chat`` only trains once; inference runs on the compact ``LinearModel`` and never
imports scikit-learn.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bot import intents
from bot.nlu.entities import MunicipalityMatcher, extract_age
from bot.nlu.linear_model import LinearModel
from bot.nlu.result import Entity, Intent, ParseResult
from bot.nlu.text import clip, fold
from bot.nlu.training_data import TrainingData, load_dir

log = logging.getLogger(__name__)
MODEL_FORMAT = "2"


@dataclass(frozen=True)
class EmbeddedConfig:
    """``nlu/embedded.yml``: the engine's own settings, kept beside the training data."""

    threshold: float = 0.3
    alpha: float = 1e-5
    char_ngrams: tuple[int, int] = (2, 5)
    word_ngrams: tuple[int, int] = (1, 2)

    @classmethod
    def load(cls, path: Path) -> EmbeddedConfig:
        if not path.is_file():
            return cls()
        raw: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            threshold=float(raw.get("threshold", cls.threshold)),
            alpha=float(raw.get("alpha", cls.alpha)),
            char_ngrams=tuple(raw.get("char_ngrams", cls.char_ngrams)),
            word_ngrams=tuple(raw.get("word_ngrams", cls.word_ngrams)),
        )


def build_pipeline(config: EmbeddedConfig) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=config.char_ngrams,
            sublinear_tf=True,
            min_df=1,
            preprocessor=fold,
        ),
        TfidfVectorizer(
            analyzer="word",
            ngram_range=config.word_ngrams,
            sublinear_tf=True,
            preprocessor=fold,
            token_pattern=r"(?u)\b\w+\b|[^\w\s]",
        ),
    )
    # Logistic loss (so confidences are probabilities) fitted by SGD: as accurate as
    # LogisticRegression(lbfgs) here, 25× faster to train (bench/nlu_compare.py).
    classifier = SGDClassifier(
        loss="log_loss", alpha=config.alpha, max_iter=50, tol=1e-4, random_state=0
    )
    return make_pipeline(features, classifier)


def common_words(data: TrainingData) -> set[str]:
    """Words of the training examples outside entity annotations (see MunicipalityMatcher)."""
    words: set[str] = set()
    for example in data.examples:
        text = example.text
        for _, _, start, end in example.entities:
            text = text[:start] + " " * (end - start) + text[end:]
        words.update(fold(text).split())
    return words


class EmbeddedEngine:
    name = "embedded"

    def __init__(
        self, model: LinearModel, config: EmbeddedConfig, matcher: MunicipalityMatcher
    ) -> None:
        self._model = model
        self.config = config
        self._matcher = matcher

    @classmethod
    def train(cls, data: TrainingData, config: EmbeddedConfig) -> LinearModel:
        """Fit with scikit-learn (imported only here) and keep the compact model."""
        pipeline = build_pipeline(config)
        pipeline.fit([e.text for e in data.examples], [e.intent for e in data.examples])
        return LinearModel.from_pipeline(pipeline)

    @classmethod
    def from_directory(cls, nlu_dir: Path, cache_dir: Path | None = None) -> EmbeddedEngine:
        """Load the cached model for this exact training data, or train and cache it."""
        data = load_dir(nlu_dir / "data")
        config = EmbeddedConfig.load(nlu_dir / "embedded.yml")
        matcher = MunicipalityMatcher(
            data.lookups.get("municipality", []), data.synonyms, common_words(data)
        )
        key = hashlib.sha256(
            f"{MODEL_FORMAT}|{sklearn_version()}|{config}|{data.fingerprint}".encode()
        ).hexdigest()[:24]
        path = cache_dir / f"nlu-{key}.npz" if cache_dir else None
        model = None
        if path and path.is_file():
            try:
                model = LinearModel.load(path)
            except (OSError, ValueError, KeyError):  # a damaged cache is retrained
                log.warning("nlu model cache unreadable; retraining")
        if model is None:
            started = time.perf_counter()
            model = cls.train(data, config)
            log.info(
                "nlu model trained",
                extra={
                    "seconds": round(time.perf_counter() - started, 2),
                    "examples": len(data.examples),
                },
            )
            if path:
                try:
                    model.save(path)
                except OSError:
                    log.warning("nlu model cache not writable; continuing without cache")
        return cls(model, config, matcher)

    @property
    def threshold(self) -> float:
        return self.config.threshold

    def classify(self, text: str) -> list[Intent]:
        probabilities = self._model.predict_proba(clip(text))
        order = np.argsort(-probabilities)[:10]
        return [
            Intent(name=self._model.labels[i], confidence=round(float(probabilities[i]), 4))
            for i in order
        ]

    def entities(self, text: str) -> list[Entity]:
        found = [e for e in (extract_age(text), self._matcher(text)) if e is not None]
        return sorted(found, key=lambda e: e["start"])

    def parse(self, text: str) -> ParseResult:
        ranking = self.classify(text) if text.strip() else []
        top = ranking[0] if ranking else Intent(name=intents.FALLBACK, confidence=1.0)
        if top["confidence"] < self.threshold:
            top = Intent(name=intents.FALLBACK, confidence=top["confidence"])
        return ParseResult(
            text=text,
            intent=top,
            entities=self.entities(text),
            intent_ranking=ranking,
            engine=self.name,
        )


def sklearn_version() -> str:
    """The installed scikit-learn's version, without importing it (part of the cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scikit-learn")
    except PackageNotFoundError:
        return "none"
