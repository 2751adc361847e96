"""End-to-end chat against a real Rasa server (``scripts/rasa/serve``), through the real
dialogue (``Assistant.handle``) with ``BARNEBOT_NLU_ENGINE=rasa``.

Needs ``BARNEBOT_TEST_RASA_URL`` and ``BARNEBOT_TEST_RASA_TOKEN`` (``scripts/rasa/ci`` sets
them; by hand: ``scripts/rasa/setup && scripts/rasa/train && scripts/rasa/serve``, then the two
values from ``.rasa-run/env``). Skipped otherwise. Every test also checks that Rasa, not the
embedded fallback, answered: a test that passes only because Rasa was down proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bot import intents
from bot.config import Settings
from bot.dialogue.messages import Reply, UserMessage
from bot.nlu.embedded import EmbeddedEngine
from bot.nlu.pipeline import understand
from bot.nlu.rasa import RasaEngine
from bot.runtime import Runtime, build, build_nlu
from bot.safety.layer import SafetyLayer

from .conftest import REPO

RASA_URL = os.environ.get("BARNEBOT_TEST_RASA_URL")
RASA_TOKEN = os.environ.get("BARNEBOT_TEST_RASA_TOKEN")

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not (RASA_URL and RASA_TOKEN),
        reason="no Rasa server: set BARNEBOT_TEST_RASA_URL and BARNEBOT_TEST_RASA_TOKEN "
        "(scripts/rasa/serve writes them to .rasa-run/env; scripts/rasa/ci does it all)",
    ),
]


def rasa_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "nlu_engine": "rasa",
            "rasa_url": RASA_URL,
            "rasa_token": RASA_TOKEN,
            "rasa_timeout": 10.0,  # a loaded CI machine: slow is fine here, down is not
        }
    )


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    runtime = build(rasa_settings(settings))
    assert isinstance(runtime.nlu, RasaEngine)
    try:
        yield runtime
        assert runtime.nlu.stats["embedded"] == 0, "Rasa did not answer every message"
        assert runtime.nlu.stats["rasa"] > 0
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaEngine]:
    embedded = EmbeddedEngine.from_directory(REPO / "nlu", tmp_path_factory.mktemp("nlu"))
    settings = Settings(
        BARNEBOT_NLU_ENGINE="rasa",
        BARNEBOT_RASA_URL=RASA_URL or "",
        BARNEBOT_RASA_TOKEN=RASA_TOKEN or "-",
        BARNEBOT_RASA_TIMEOUT=10,
        BARNEBOT_NLU_DIR=REPO / "nlu",
    )
    rasa = build_nlu(settings, embedded)
    assert isinstance(rasa, RasaEngine)
    yield rasa
    assert rasa.stats["embedded"] == 0, "Rasa did not answer every message"
    rasa.close()


def say(rt: Runtime, text: str, chat: str = "test:rasa") -> list[Reply]:
    return rt.assistant.handle(UserMessage(chat, text=text))


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def topics(replies: list[Reply]) -> list[str | None]:
    return [r.topic for r in replies if r.topic]


# --- the engine against the real server ------------------------------------------------------


def test_parse_has_rasa_shape_and_barnebots_intents(engine: RasaEngine) -> None:
    result = engine.parse("hvad er en bisidder")
    assert result["engine"] == "rasa"
    assert result["intent"]["name"] == "support_person"
    assert 0 < result["intent"]["confidence"] <= 1
    names = [i["name"] for i in result["intent_ranking"]]
    assert names and set(names) <= set(intents.ALL)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hej", "greet"),
        ("kan jeg klage over kommunen", "complaint"),
        ("hvem er min sagsbehandler", "who_is_my_caseworker"),
        ("jeg vil skrive til min rådgiver", "leave_message"),
        ("hvad betyder partsstatus", "party_rights"),
        ("er du en robot", "bot_challenge"),
    ],
)
def test_typical_questions(engine: RasaEngine, text: str, intent: str) -> None:
    assert engine.parse(text)["intent"]["name"] == intent


def test_gibberish_is_out_of_scope_never_nlu_fallback(engine: RasaEngine) -> None:
    result = engine.parse("qwxz vbnm plk")
    assert result["intent"]["name"] == intents.FALLBACK
    assert all(i["name"] != "nlu_fallback" for i in result["intent_ranking"])


def test_entities_are_an_int_age_and_the_official_municipality(engine: RasaEngine) -> None:
    result = engine.parse("jeg er 14 og bor i arhus, hvem er min raadgiver")
    values = {e["entity"]: e["value"] for e in result["entities"]}
    assert values == {"age": 14, "municipality": "Aarhus"}


def test_danger_is_the_safety_layers_call_with_rasa_too(engine: RasaEngine) -> None:
    safety = SafetyLayer(classifier=engine.local)  # type: ignore[arg-type]
    assert understand("min far slår mig", engine, safety)["intent"]["name"] == intents.URGENT
    assert understand("jeg dør af grin haha", engine, safety)["intent"]["name"] != intents.URGENT


# --- the real dialogue, Rasa understanding ---------------------------------------------------


def test_first_contact_discloses_the_robot_and_answers_the_question(rt: Runtime) -> None:
    replies = say(rt, "kan jeg klage")
    assert "robot" in replies[0].text.lower()
    assert "complaint" in topics(replies)


def test_rights_question_gets_the_topic_with_source_and_buttons(rt: Runtime) -> None:
    replies = say(rt, "hvad er en bisidder")
    reply = next(r for r in replies if r.topic)
    assert reply.topic == "support_person"
    assert "§" in reply.text and "https://" in reply.text
    assert reply.buttons


def test_who_is_my_caseworker_with_the_municipality_in_the_question(rt: Runtime) -> None:
    assert "København" in joined(say(rt, "jeg bor i kbh hvem er min rådgiver"))


def test_caseworker_form_asks_municipality_then_answers(rt: Runtime) -> None:
    assert topics(say(rt, "hvem er min sagsbehandler")) == ["who_is_my_caseworker"]
    assert "Aarhus" in joined(say(rt, "aarhus"))


def test_age_picks_the_variant(rt: Runtime) -> None:
    young = say(rt, "jeg er 9 år. hvad er partsstatus", chat="test:young")
    old = say(rt, "jeg er 14 år. hvad er partsstatus", chat="test:old")
    assert joined(young) != joined(old) and "14" in joined(old)


def test_danger_gets_the_urgent_answer_at_once(rt: Runtime) -> None:
    say(rt, "hej")
    replies = say(rt, "min far slår mig")
    urgent = [r for r in replies if r.urgent]
    assert urgent and "112" in urgent[0].text


def test_harmless_lookalike_is_not_an_emergency(rt: Runtime) -> None:
    assert not any(r.urgent for r in say(rt, "jeg dør af grin haha"))


def test_not_understood_offers_a_way_on(rt: Runtime) -> None:
    say(rt, "hej")
    for text in ("qwxz vbnm plk", "zzkk vvbb"):
        replies = say(rt, text)
        assert replies and replies[-1].buttons
