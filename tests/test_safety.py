"""The safety layer: every crisis message in our corpus caught, look-alikes left alone."""

from __future__ import annotations

import pytest
import yaml

from bot.nlu.embedded import EmbeddedEngine
from bot.safety.layer import SafetyLayer

from .conftest import DATA, REPO

SAFETY = DATA / "safety"


def _corpus(name: str, key: str) -> list[dict[str, str]]:
    items = yaml.safe_load((SAFETY / name).read_text(encoding="utf-8"))[key]
    assert items, name
    return list(items)


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> SafetyLayer:
    engine = EmbeddedEngine.from_directory(REPO / "nlu", tmp_path_factory.mktemp("cache"))
    return SafetyLayer(classifier=engine)


def test_every_crisis_message_is_flagged(layer: SafetyLayer) -> None:
    crisis = _corpus("crisis.yml", "crisis")
    missed = [c["text"] for c in crisis if not layer.check(c["text"]).flagged]
    assert missed == [], f"{len(missed)}/{len(crisis)} missed"


def test_lookalikes_rarely_flagged(layer: SafetyLayer) -> None:
    harmless = _corpus("lookalikes.yml", "lookalikes")
    flagged = [c["text"] for c in harmless if layer.check(c["text"]).flagged]
    assert len(flagged) / len(harmless) <= 0.025, flagged


def test_lexicon_alone_catches_the_common_phrasings() -> None:
    layer = SafetyLayer(classifier=None)
    for text in [
        "min far slår mig",
        "jeg vil ikke leve mere",
        "jeg toer ikke gaa hjem",
        "han truer med at dele mine nøgenbilleder",
        "jeg skaerer i mig selv",
    ]:
        assert layer.check(text).flagged, text


def test_danger_hidden_after_a_harmless_idiom_is_still_caught() -> None:
    layer = SafetyLayer(classifier=None)
    assert not layer.check("jeg dør af grin").flagged
    assert layer.check("jeg dør af grin men min stedfar slår mig").flagged


def test_verdict_carries_no_words(layer: SafetyLayer) -> None:
    verdict = layer.check("min far slår mig")
    assert "slår" not in repr(verdict.as_dict()) and verdict.categories == ("violence",)


def test_ten_thousand_characters_are_scanned(layer: SafetyLayer) -> None:
    text = "bla " * 2400 + "jeg vil ikke leve mere " + "bla " * 100
    assert len(text) > 9_000
    assert layer.check(text).flagged
