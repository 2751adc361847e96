"""The embedded NLU engine, trained from nlu/, judged on held-out data it never saw."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bot import intents
from bot.nlu.embedded import EmbeddedEngine
from bot.nlu.evaluate import evaluate
from bot.nlu.pipeline import understand
from bot.nlu.training_data import load_dir, load_files, strip_annotations
from bot.safety.layer import SafetyLayer

from .conftest import DATA, REPO

HELDOUT = DATA / "nlu_heldout.yml"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedEngine:
    return EmbeddedEngine.from_directory(REPO / "nlu", tmp_path_factory.mktemp("cache"))


def test_training_data_covers_every_intent_with_40_examples() -> None:
    data = load_dir(REPO / "nlu" / "data")
    counts = Counter(e.intent for e in data.examples)
    assert set(counts) == set(intents.ALL)
    assert min(counts.values()) >= 40, counts.most_common()[-3:]


def test_no_example_is_labelled_with_two_intents() -> None:
    data = load_dir(REPO / "nlu" / "data")
    seen: dict[str, str] = {}
    for e in data.examples:
        key = e.text.lower().strip()
        assert seen.setdefault(key, e.intent) == e.intent, key


def test_heldout_set_shares_no_example_with_training_data() -> None:
    train = {e.text.lower().strip() for e in load_dir(REPO / "nlu" / "data").examples}
    test = [e.text.lower().strip() for e in load_files([HELDOUT]).examples]
    assert len(test) >= 25 * 20
    assert not train.intersection(test)


def test_the_data_editors_checker_passes_and_knows_the_intents(tmp_path: Path) -> None:
    """nlu/tools/check_data.py (for people editing nlu/data, PyYAML only) must not rot: it
    passes on the shipped data, knows exactly the intents of bot/intents.py, and still
    catches an example filed under two intents."""
    checker = REPO / "nlu" / "tools" / "check_data.py"
    spec = importlib.util.spec_from_file_location("check_data", checker)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.INTENTS) == set(intents.ALL)

    ok = subprocess.run([sys.executable, str(checker)], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.rstrip().endswith("OK"), ok.stdout[-500:]

    broken = tmp_path / "repo"
    shutil.copytree(REPO / "nlu", broken / "nlu")
    shutil.copytree(REPO / "tests" / "data", broken / "tests" / "data")
    social = broken / "nlu" / "data" / "social.yml"
    text = social.read_text(encoding="utf-8")
    assert "    - hallo\n" in text
    social.write_text(
        text.replace("    - hallo\n", "    - hallo\n    - hvad er en bisidder\n", 1), "utf-8"
    )
    bad = subprocess.run(
        [sys.executable, str(broken / "nlu" / "tools" / "check_data.py")],
        cwd=broken,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "bisidder" in bad.stdout + bad.stderr


def test_lookup_table_has_all_98_municipalities_with_and_without_aeoeaa() -> None:
    data = load_dir(REPO / "nlu" / "data")
    lookup = set(data.lookups["municipality"])
    assert {"København", "Koebenhavn", "Ærø", "Aeroe", "Høje-Taastrup"} <= lookup


def test_annotations_are_stripped_with_offsets() -> None:
    text, entities = strip_annotations(
        'jeg er [11](age) og bor i [kbh]{"entity": "municipality", "value": "København"}'
    )
    assert text == "jeg er 11 og bor i kbh"
    assert entities == (("age", "11", 7, 9), ("municipality", "København", 19, 22))


def test_parse_has_rasa_shape(engine: EmbeddedEngine) -> None:
    result = engine.parse("hva er en bisider")
    assert set(result) >= {"text", "intent", "entities", "intent_ranking"}
    assert result["intent"]["name"] == "support_person"
    assert 0 < result["intent"]["confidence"] <= 1
    ranking = result["intent_ranking"]
    assert ranking == sorted(ranking, key=lambda i: -i["confidence"])


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("kan jeg klage over kommunen??", "complaint"),
        ("hvem er min sagsbehandler", "who_is_my_caseworker"),
        ("er du en robot", "bot_challenge"),
        ("hej", "greet"),
        ("tak for hjælpen", "thanks"),
        ("hvad er aktindsigt", "access_to_records"),
        ("hvornår må jeg se min mor når jeg er anbragt", "contact_with_parents"),
    ],
)
def test_typical_questions(engine: EmbeddedEngine, text: str, intent: str) -> None:
    assert engine.parse(text)["intent"]["name"] == intent


def test_entities_age_and_fuzzy_municipality(engine: EmbeddedEngine) -> None:
    result = engine.parse("jeg er 12 år og bor i aarhuz, hvem er min rådgiver")
    values = {e["entity"]: e["value"] for e in result["entities"]}
    assert values == {"age": 12, "municipality": "Aarhus"}
    no_ae = engine.parse("jeg bor i hoje taastrup")
    assert {e["value"] for e in no_ae["entities"]} == {"Høje-Taastrup"}


def test_ordinary_words_are_not_taken_for_municipalities(engine: EmbeddedEngine) -> None:
    result = engine.parse("jeg vil skrive til min rådgiver")
    assert not [e for e in result["entities"] if e["entity"] == "municipality"]


def test_gibberish_falls_below_threshold_to_out_of_scope(engine: EmbeddedEngine) -> None:
    assert engine.parse("qwxz vbnm plk")["intent"]["name"] == intents.FALLBACK


def test_model_is_cached_by_data_hash(tmp_path: Path) -> None:
    started = time.perf_counter()
    EmbeddedEngine.from_directory(REPO / "nlu", tmp_path)
    trained = time.perf_counter() - started
    cached = list(tmp_path.glob("nlu-*.npz"))
    assert len(cached) == 1
    started = time.perf_counter()
    EmbeddedEngine.from_directory(REPO / "nlu", tmp_path)
    assert time.perf_counter() - started < trained
    assert list(tmp_path.glob("nlu-*.npz")) == cached


def test_heldout_macro_f1_meets_the_bar(engine: EmbeddedEngine) -> None:
    safety = SafetyLayer(classifier=engine)
    report = evaluate(HELDOUT, lambda t: understand(t, engine, safety), engine.config.threshold)
    assert report["macro_f1"] >= 0.85, report["confusions"][:5]
    assert report["urgent_help_recall"] == 1.0
    assert len(report["predictions"]) == report["examples"]


def test_compact_model_matches_scikit_learn_exactly() -> None:
    """The inference arithmetic in bot/nlu/linear_model.py is scikit-learn's, to 1e-9."""
    import numpy as np

    from bot.nlu.embedded import EmbeddedConfig, build_pipeline
    from bot.nlu.linear_model import LinearModel

    data = load_dir(REPO / "nlu" / "data")
    pipeline = build_pipeline(EmbeddedConfig())
    pipeline.fit([e.text for e in data.examples], [e.intent for e in data.examples])
    compact = LinearModel.from_pipeline(pipeline)
    texts = [e.text for e in load_files([HELDOUT]).examples]
    texts += ["", "😭😭😭", "a", "HJÆLP!!!", "x " * 500, "jeg er 12 år og bor i Aarhus"]
    expected = pipeline.predict_proba(texts)
    for text, row in zip(texts, expected, strict=True):
        assert np.allclose(compact.predict_proba(text), row, atol=1e-9), text
    assert compact.labels == tuple(pipeline.classes_)


def test_model_cache_is_plain_arrays_not_pickle(tmp_path: Path) -> None:
    import numpy as np

    EmbeddedEngine.from_directory(REPO / "nlu", tmp_path)
    (cached,) = tmp_path.glob("nlu-*.npz")
    with np.load(cached, allow_pickle=False) as data:
        assert {"meta", "coef", "intercept"} <= set(data.files)
