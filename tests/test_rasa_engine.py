"""The ``rasa`` engine against a real HTTP server on 127.0.0.1 that answers like Rasa.

No Rasa needed: ``tests/fake_rasa.py`` is a small socket server (in a thread, or as its own
process when a test kills or freezes it). The same behaviour against a real Rasa server is in
``test_rasa_live.py``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from bot import intents
from bot.config import Settings
from bot.dialogue.messages import Reply, UserMessage
from bot.logs import JsonFormatter, configure_logging
from bot.nlu.embedded import EmbeddedEngine
from bot.nlu.pipeline import understand
from bot.nlu.rasa import InvalidAnswer, RasaEngine, fallback_threshold, map_answer
from bot.runtime import Runtime, build, build_nlu
from bot.safety.layer import SafetyLayer

from .conftest import REPO
from .fake_rasa import FakeRasa, FakeRasaServer

TOKEN = "test-token-1234"


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedEngine:
    return EmbeddedEngine.from_directory(REPO / "nlu", tmp_path_factory.mktemp("nlu"))


def engine_for(url: str, embedded: EmbeddedEngine, **kwargs: float) -> RasaEngine:
    options: dict[str, float] = {"timeout": 0.5, "retry_seconds": 30.0, **kwargs}
    return RasaEngine(
        url,
        TOKEN,
        local=embedded,
        entities=embedded.entities,
        threshold=0.5,
        timeout=options["timeout"],
        retry_seconds=options["retry_seconds"],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- mapping Rasa's answer -------------------------------------------------------------------


def rasa_answer(intent: str, confidence: float, *ranking: tuple[str, float]) -> dict[str, object]:
    return {
        "text": "x",
        "intent": {"name": intent, "confidence": confidence},
        "entities": [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
    }


def test_nlu_fallback_becomes_out_of_scope_and_leaves_the_ranking(
    embedded: EmbeddedEngine,
) -> None:
    answer = rasa_answer(
        "nlu_fallback", 0.5, ("nlu_fallback", 0.5), ("greet", 0.31), ("complaint", 0.2)
    )
    result = map_answer("blabla", answer, embedded.entities)
    assert result["intent"] == {"name": intents.FALLBACK, "confidence": 0.31}
    assert [i["name"] for i in result["intent_ranking"]] == ["greet", "complaint"]
    assert result["engine"] == "rasa"
    assert result["text"] == "blabla"


def test_entities_are_barnebots_age_int_and_official_municipality(
    embedded: EmbeddedEngine,
) -> None:
    text = "jeg er 12 og bor i arhus, hvem er min raadgiver"
    answer = rasa_answer("who_is_my_caseworker", 0.9, ("who_is_my_caseworker", 0.9))
    answer["entities"] = [  # what Rasa itself found: a string, the misspelling kept
        {"entity": "age", "start": 7, "end": 9, "value": "12", "extractor": "DIETClassifier"},
        {"entity": "municipality", "start": 19, "end": 24, "value": "arhus",
         "extractor": "DIETClassifier"},
    ]  # fmt: skip
    entities = {e["entity"]: e for e in map_answer(text, answer, embedded.entities)["entities"]}
    assert entities["age"]["value"] == 12
    assert entities["municipality"]["value"] == "Aarhus"
    assert text[entities["municipality"]["start"] : entities["municipality"]["end"]] == "arhus"


@pytest.mark.parametrize(
    "answer",
    [
        [],
        "ok",
        {"intent": None},
        {"intent": {"name": "order_pizza", "confidence": 0.9}},
        {"intent": {"name": "greet", "confidence": "high"}},
        {"intent": {"name": "greet", "confidence": float("nan")}},
        {"intent": {"name": "greet", "confidence": 1.7}},
        {"intent": {"name": "greet", "confidence": True}},
        {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": "greet"},
        {"intent": {"name": "greet", "confidence": 0.9}, "intent_ranking": [{"name": 1}]},
    ],
)
def test_anything_but_a_parse_result_is_refused(answer: object, embedded: EmbeddedEngine) -> None:
    with pytest.raises(InvalidAnswer):
        map_answer("hej", answer, embedded.entities)


def test_threshold_comes_from_the_fallback_classifier_in_config_yml(tmp_path: Path) -> None:
    pipeline = yaml.safe_load((REPO / "nlu" / "config.yml").read_text())["pipeline"]
    configured = next(c["threshold"] for c in pipeline if c["name"] == "FallbackClassifier")
    assert fallback_threshold(REPO / "nlu" / "config.yml") == configured
    (tmp_path / "config.yml").write_text("pipeline:\n- name: WhitespaceTokenizer\n")
    assert fallback_threshold(tmp_path / "config.yml") == 0.3  # Rasa's own default
    assert fallback_threshold(tmp_path / "missing.yml") == 0.3


# --- settings ----------------------------------------------------------------------------------


def test_rasa_engine_needs_a_token() -> None:
    with pytest.raises(ValidationError, match="BARNEBOT_RASA_TOKEN"):
        Settings(BARNEBOT_NLU_ENGINE="rasa", BARNEBOT_RASA_TOKEN=None)


def test_build_nlu_gives_the_rasa_engine(settings: Settings, embedded: EmbeddedEngine) -> None:
    rasa_settings = Settings(
        BARNEBOT_NLU_ENGINE="rasa",
        BARNEBOT_RASA_URL="http://127.0.0.1:1",
        BARNEBOT_RASA_TOKEN=TOKEN,
        BARNEBOT_RASA_TIMEOUT=0.25,
        BARNEBOT_NLU_DIR=REPO / "nlu",
    )
    engine = build_nlu(rasa_settings, embedded)
    assert isinstance(engine, RasaEngine)
    assert engine.threshold == fallback_threshold(REPO / "nlu" / "config.yml")
    assert build_nlu(settings.model_copy(update={"nlu_engine": "embedded"}), embedded) is embedded
    engine.close()


# --- talking to a server ------------------------------------------------------------------------


def test_parse_asks_rasa_with_the_token(embedded: EmbeddedEngine) -> None:
    with FakeRasa(TOKEN) as rasa:
        engine = engine_for(rasa.url, embedded)
        result = engine.parse("hvad er en bisidder")
        assert result["engine"] == "rasa"
        assert result["intent"] == {"name": "support_person", "confidence": 0.93}
        assert rasa.server.texts == ["hvad er en bisidder"]
        assert engine.available
        assert engine.stats == {"rasa": 1, "embedded": 0}


def test_a_very_long_message_is_clipped_like_the_embedded_engine_does(
    embedded: EmbeddedEngine,
) -> None:
    with FakeRasa(TOKEN) as rasa:
        text = "bla " * 5000 + "hvad er en bisidder"
        result = engine_for(rasa.url, embedded).parse(text)
        assert result["text"] == text
        assert len(rasa.server.texts[0]) <= 1005
        assert rasa.server.texts[0].endswith("hvad er en bisidder")


@pytest.mark.parametrize("mode", ["garbage", "wrong", "error"])
def test_bad_answers_fall_back_to_the_embedded_engine(
    mode: str, embedded: EmbeddedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    with FakeRasa(TOKEN, mode=mode) as rasa, caplog.at_level(logging.WARNING):
        engine = engine_for(rasa.url, embedded)
        result = engine.parse("kan jeg klage over kommunen")
        assert result["engine"] == "embedded"
        assert result["intent"]["name"] == "complaint"
        assert not engine.available
    assert [r.getMessage() for r in caplog.records] == [
        "rasa unavailable; answering with the embedded engine"
    ]


def test_wrong_token_falls_back_and_logs_the_status_but_no_text_or_token(
    embedded: EmbeddedEngine, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "min hemmelighed er at jeg hedder Sofie"
    # The most talkative production set-up, as in test_privacy.py: library loggers that
    # print request URLs (httpx: the token is in Rasa's query string) stay at WARNING.
    configure_logging(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    try:
        with FakeRasa("another-token") as rasa:
            result = engine_for(rasa.url, embedded).parse(secret_text)
    finally:
        configure_logging(logging.WARNING)
    assert result["engine"] == "embedded"
    lines = [JsonFormatter().format(r) for r in caplog.records]
    logged = [json.loads(line) for line in lines if "rasa" in line]
    assert logged and logged[0]["error"] == "HTTPStatusError" and logged[0]["status"] == 401
    everything = "\n".join(lines)
    assert "Sofie" not in everything and "hemmelighed" not in everything
    assert TOKEN not in everything


def test_down_then_back_circuit_breaker(embedded: EmbeddedEngine) -> None:
    port = free_port()
    now = [1000.0]
    engine = RasaEngine(
        f"http://127.0.0.1:{port}",
        TOKEN,
        local=embedded,
        entities=embedded.entities,
        timeout=0.5,
        retry_seconds=30,
        clock=lambda: now[0],
    )
    # Nothing listens: refused at once, the embedded engine answers.
    assert engine.parse("hvad er en bisidder")["engine"] == "embedded"
    assert not engine.available
    server = FakeRasaServer(port, TOKEN)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # Within the retry interval Rasa is not asked, even though it is back.
        now[0] += 10
        assert engine.parse("kan jeg klage")["engine"] == "embedded"
        assert server.requests == 0
        # After it, the next message tries Rasa again and closes the circuit.
        now[0] += 21
        assert engine.parse("kan jeg klage")["engine"] == "rasa"
        assert engine.available and server.requests == 1
        assert engine.stats == {"rasa": 1, "embedded": 2}
    finally:
        server.shutdown()
        server.server_close()
        engine.close()


def test_slow_rasa_costs_one_timeout_then_nothing(embedded: EmbeddedEngine) -> None:
    with FakeRasa(TOKEN, mode="slow", delay=3.0) as rasa:
        engine = engine_for(rasa.url, embedded, timeout=0.3)
        started = time.perf_counter()
        first = engine.parse("hvad er en bisidder")
        first_took = time.perf_counter() - started
        started = time.perf_counter()
        second = engine.parse("kan jeg klage")
        second_took = time.perf_counter() - started
        assert first["engine"] == second["engine"] == "embedded"
        assert first["intent"]["name"] == "support_person"
        assert first_took < 1.5, first_took
        assert second_took < 0.2, second_took  # the circuit is open: no second timeout
        assert rasa.server.requests == 1
        engine.close()


def test_safety_layer_decides_alone_and_flagged_text_never_reaches_rasa(
    embedded: EmbeddedEngine,
) -> None:
    safety = SafetyLayer(classifier=embedded)
    with FakeRasa(TOKEN) as rasa:
        engine = engine_for(rasa.url, embedded)
        danger = understand("min far slår mig hver dag", engine, safety)
        assert danger["intent"]["name"] == intents.URGENT
        assert danger["safety"]["flagged"]
        assert rasa.server.texts == []  # an emergency does not wait for a server
        # Rasa's own "urgent_help" does not make an emergency: only the safety layer does.
        sad = understand("jeg er ked af det", engine, safety)
        assert sad["engine"] == "rasa"
        assert not sad["safety"]["flagged"]
        assert sad["intent"]["name"] != intents.URGENT
        engine.close()


# --- the real dialogue while the Rasa server dies ----------------------------------------------


class RasaProcess:
    """tests/fake_rasa.py as its own process, so it can be SIGKILLed or SIGSTOPped."""

    def __init__(self, port: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("fake_rasa.py")),
             "--port", str(port), "--token", TOKEN],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("port "), line
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def requests(self) -> int:
        count: int = httpx.get(f"{self.url}/stats", timeout=5).json()["texts"]
        return count

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def rasa_process() -> Iterator[RasaProcess]:
    process = RasaProcess()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def rasa_runtime(settings: Settings, rasa_process: RasaProcess) -> Iterator[Runtime]:
    rt = build(
        settings.model_copy(
            update={
                "nlu_engine": "rasa",
                "rasa_url": rasa_process.url,
                "rasa_token": TOKEN,
                "rasa_timeout": 0.5,
                "rasa_retry_seconds": 0.5,
            }
        )
    )
    try:
        yield rt
    finally:
        rt.close()


def timed_say(rt: Runtime, text: str, chat: str = "test:rasa") -> tuple[list[Reply], float]:
    started = time.perf_counter()
    replies = rt.assistant.handle(UserMessage(chat, text=text))
    return replies, time.perf_counter() - started


def answered(replies: list[Reply]) -> bool:
    """The child got an answer: at least one reply, none of them empty."""
    return bool(replies) and all(r.text.strip() for r in replies)


def offers_a_way_on(replies: list[Reply]) -> bool:
    return answered(replies) and bool(replies[-1].buttons)


def test_killing_rasa_mid_conversation_never_leaves_a_child_without_an_answer(
    rasa_runtime: Runtime, rasa_process: RasaProcess
) -> None:
    rt = rasa_runtime
    assert isinstance(rt.nlu, RasaEngine)
    replies, _ = timed_say(rt, "hej")
    assert answered(replies) and "robot" in replies[0].text.lower()
    replies, _ = timed_say(rt, "hvem er min rådgiver")  # the bot asks for the municipality
    assert answered(replies)
    assert rasa_process.requests() == 2 and rt.nlu.stats["embedded"] == 0

    os.kill(rasa_process.proc.pid, signal.SIGKILL)  # mid-form
    rasa_process.proc.wait(timeout=10)

    conversation = [
        ("aarhus", lambda r: "Aarhus" in "\n".join(x.text for x in r)),
        ("kan jeg klage over kommunen", lambda r: "complaint" in [x.topic for x in r]),
        ("min far slår mig", lambda r: any(x.urgent for x in r)),
        ("hvd er en bisider", lambda r: "support_person" in [x.topic for x in r]),
        ("qwxz vbnm plk", offers_a_way_on),
    ]
    for text, expected in conversation:
        replies, took = timed_say(rt, text)
        assert answered(replies), text
        assert expected(replies), text
        assert took < 2.0, (text, took)
    assert not rt.nlu.available
    assert rt.nlu.stats["embedded"] >= 3

    # Rasa comes back on the same port: after the retry interval it answers again.
    back = RasaProcess(rasa_process.port)
    try:
        time.sleep(0.6)
        replies, _ = timed_say(rt, "hvad er en bisidder")
        assert answered(replies) and "support_person" in [r.topic for r in replies]
        assert back.requests() == 1
        assert rt.nlu.available
    finally:
        back.stop()


def test_a_frozen_rasa_costs_one_short_wait_and_the_child_still_gets_answers(
    rasa_runtime: Runtime, rasa_process: RasaProcess
) -> None:
    rt = rasa_runtime
    assert answered(timed_say(rt, "hej")[0])
    os.kill(rasa_process.proc.pid, signal.SIGSTOP)  # accepts connections, never answers
    try:
        replies, took = timed_say(rt, "kan jeg klage")
        assert answered(replies) and "complaint" in [r.topic for r in replies]
        assert took < 2.0, took
        for text in ("hvad er en bisidder", "hvem er min sagsbehandler", "tak"):
            replies, took = timed_say(rt, text)
            assert answered(replies), text
            assert took < 1.5, (text, took)  # an open circuit: no waiting again
    finally:
        os.kill(rasa_process.proc.pid, signal.SIGCONT)
