"""Recognise acute danger in a child's message, before anything else looks at it.

Two detectors, either one is enough (recall first):

* the crisis lexicon (``lexicon.yml``): patterns over folded text, after known harmless
  look-alikes ("jeg dør af grin", "min far slår græsset") have been cut out;
* the embedded classifier's ``urgent_help`` probability, when it is very confident (0.9:
  at 0.75 it flagged 8 of 250 look-alikes, at 0.9 two, with no crisis message lost) — it
  catches phrasings the lexicon has not seen. It is always the embedded model, never a
  remote engine, so safety does not depend on a server being up.

Only categories and which detector fired are reported: never the words that matched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from bot import intents
from bot.nlu.result import Intent
from bot.nlu.text import fold

LEXICON = Path(__file__).resolve().parent / "lexicon.yml"
_PATTERN_FOLDS = (("æ", "ae"), ("ø", "o"), ("å", "a"), ("oe", "o"), ("aa", "a"))


class Classifier(Protocol):
    def classify(self, text: str) -> list[Intent]: ...


def _fold_pattern(pattern: str) -> str:
    """Write patterns with æøå or without: they are folded the same way as the text."""
    for src, dst in _PATTERN_FOLDS:
        pattern = pattern.replace(src, dst)
    return pattern


@dataclass(frozen=True)
class SafetyResult:
    flagged: bool
    categories: tuple[str, ...] = ()
    detectors: tuple[str, ...] = ()
    classifier_confidence: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "categories": list(self.categories),
            "detectors": list(self.detectors),
            "classifier_confidence": self.classifier_confidence,
        }


@dataclass
class Lexicon:
    lookalikes: list[re.Pattern[str]]
    categories: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = LEXICON) -> Lexicon:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            lookalikes=[re.compile(_fold_pattern(p)) for p in raw.get("lookalikes", [])],
            categories={
                name: [re.compile(_fold_pattern(p)) for p in patterns]
                for name, patterns in (raw.get("categories") or {}).items()
            },
        )

    def without_lookalikes(self, text: str) -> tuple[str, bool]:
        """Folded text with harmless look-alike phrases cut out, and whether any were."""
        folded = fold(text)
        cleaned = folded
        for pattern in self.lookalikes:
            cleaned = pattern.sub(" ~ ", cleaned)
        return cleaned, cleaned != folded

    def scan(self, text: str) -> tuple[str, ...]:
        cleaned, _ = self.without_lookalikes(text)
        return self.scan_folded(cleaned)

    def scan_folded(self, cleaned: str) -> tuple[str, ...]:
        return tuple(
            name
            for name, patterns in self.categories.items()
            if any(p.search(cleaned) for p in patterns)
        )


class SafetyLayer:
    def __init__(
        self,
        lexicon: Lexicon | None = None,
        classifier: Classifier | None = None,
        classifier_threshold: float = 0.9,
    ) -> None:
        self.lexicon = lexicon or Lexicon.load()
        self.classifier = classifier
        self.classifier_threshold = classifier_threshold

    def check(self, text: str, ranking: list[Intent] | None = None) -> SafetyResult:
        """Is this message acute danger? ``ranking`` is the NLU's, when already computed."""
        if not text.strip():
            return SafetyResult(False)
        cleaned, had_lookalikes = self.lexicon.without_lookalikes(text)
        categories = self.lexicon.scan_folded(cleaned)
        detectors = ["lexicon"] if categories else []
        confidence = None
        if self.classifier is not None and (ranking is None or had_lookalikes):
            # The classifier, too, judges the text without "jeg dør af grin".
            ranking = self.classifier.classify(cleaned)
        if ranking:
            confidence = next(
                (i["confidence"] for i in ranking if i["name"] == intents.URGENT), 0.0
            )
            top_is_urgent = ranking[0]["name"] == intents.URGENT
            if top_is_urgent and confidence >= self.classifier_threshold:
                detectors.append("classifier")
        return SafetyResult(
            flagged=bool(detectors),
            categories=categories,
            detectors=tuple(detectors),
            classifier_confidence=confidence,
        )
