"""Privacy and robustness of the dialogue core: no child's words in logs, no crash on any
input, and nothing from one chat ever shown in another."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.casework import codes
from bot.casework import service as casework
from bot.config import Settings
from bot.dialogue.messages import UserMessage
from bot.logs import NOISY_LOGGERS, configure_logging
from bot.runtime import Runtime, build
from bot.storage.models import Conversation

from .conftest import REPO

CANARY = "KANARIE7F3A"
CANARY_NAME = "Sofie Kanariesen"
CANARY_MAIL = "sofie.kanarie@example.org"
CANARY_PHONE = "29 87 65 43"
SECRET_CASEWORKER = "Zacharias Qvistgaard"


def _say(rt: Runtime, chat: str, text: str | None = None, button: str | None = None) -> None:
    replies = rt.assistant.handle(UserMessage(chat, text=text, button=button))
    assert replies and all(r.text.strip() for r in replies)


def test_no_message_text_names_or_contacts_in_logs(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The most talkative production set-up (`barnebot -v`, and DEBUG on top), configured
    # before anything is built, so library loggers (SQL parameters!) are in play too.
    configure_logging(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    runtime = build(settings)
    with runtime.db.unit_of_work() as s:
        casework.add_caseworker(s, name="Mette Hansen", email="mette@kommune.example")
        code, _ = casework.create_invite(
            s,
            caseworker_email="mette@kommune.example",
            key=runtime.assistant.code_key,
            child_name=CANARY_NAME,
        )
    chat = "tg:canary"
    words = f"{CANARY} jeg hedder {CANARY_NAME}, mail {CANARY_MAIL}, tlf {CANARY_PHONE}"
    script: list[tuple[str | None, str | None]] = [
        (f"hej {CANARY}", None),
        (codes.display(codes.generate()), None),  # a wrong code
        (code, None),
        (f"min far slår mig {CANARY}", None),  # the urgent path
        (f"jeg er 12 og bor i aarhus {words}", None),
        ("skriv til min rådgiver", None),
        (words, None),
        (None, "message:send"),
        (f"/{CANARY.lower()}", None),  # unknown command
        (None, f"topic:{CANARY}"),  # forged button
        ("x" * 10_000 + CANARY, None),
        ("/slet", None),
        (None, "delete:yes"),
    ]
    for text, button in script:
        _say(runtime, chat, text, button)
    runtime.close()
    assert caplog.records, "the paths above do log (events and ids)"
    for secret in (
        CANARY,
        CANARY.lower(),
        CANARY_NAME,
        "Kanariesen",
        CANARY_MAIL,
        CANARY_PHONE,
        "mette@kommune.example",
        "Mette Hansen",
    ):
        assert secret not in caplog.text, secret


ACTIONS = st.one_of(
    st.builds(lambda t: ("text", t), st.text(max_size=300)),
    st.builds(
        lambda t: ("text", t),
        st.sampled_from(
            [
                "hej",
                "hvad er en bisidder",
                "jeg er 11",
                "skriv til min rådgiver",
                "/slet",
                "/start",
                "/start ABCDE12345",
                "ja",
                "min far slår mig",
                "jeg bor i kbh",
                "😭",
                "AB2CD-EF3GH",
            ]
        ),
    ),
    st.builds(
        lambda p: ("button", p),
        st.sampled_from(
            [
                "menu",
                "rights",
                "topic:complaint",
                "more:party_rights",
                "delete:yes",
                "delete:no",
                "message:send",
                "message:edit",
                "message:cancel",
                "topic:leave_message",
            ]
        ),
    ),
    st.builds(lambda p: ("button", p), st.text(max_size=80)),
    st.just(("unsupported", "")),
)
FUZZ_EXAMPLES = int(os.environ.get("BARNEBOT_FUZZ_EXAMPLES", "300"))


@pytest.fixture
def linked_other_chat(cache_dir: Path, tmp_path: Path) -> Iterator[Runtime]:
    """Chat tg:other is linked to a caseworker whose name must never reach chat tg:fuzz.

    The fuzz test is about the dialogue core, so it runs on one backend (a SQLite file);
    the database tests elsewhere run on both."""
    runtime = build(
        Settings(
            BARNEBOT_DATABASE_URL=f"sqlite:///{tmp_path / 'fuzz.sqlite3'}",
            BARNEBOT_CACHE_DIR=cache_dir,
            BARNEBOT_CONTENT_DIR=REPO / "content",
            BARNEBOT_NLU_DIR=REPO / "nlu",
        )
    )
    with runtime.db.unit_of_work() as s:
        casework.add_caseworker(s, name=SECRET_CASEWORKER, email="zq@kommune.example")
        code, _ = casework.create_invite(
            s, caseworker_email="zq@kommune.example", key=runtime.assistant.code_key
        )
    runtime.assistant.handle(UserMessage("tg:other", text=code))
    runtime.assistant.handle(UserMessage("tg:other", text="jeg er 16 og bor i Tønder"))
    yield runtime
    runtime.close()


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(ACTIONS, min_size=1, max_size=4))
def test_fuzz_dialogue_always_answers_and_never_leaks(
    linked_other_chat: Runtime, actions: list[tuple[str, str]]
) -> None:
    rt = linked_other_chat
    for kind, value in actions:
        message = UserMessage(
            "tg:fuzz",
            text=value if kind == "text" else None,
            button=value if kind == "button" else None,
            unsupported=kind == "unsupported",
        )
        replies = rt.assistant.handle(message)
        assert replies, message
        shown = "\n".join(r.text for r in replies)
        assert all(r.text.strip() for r in replies)
        own_words = value if kind == "text" else ""
        if "Zacharias" not in own_words and "Qvist" not in own_words:
            assert "Zacharias" not in shown and "Qvistgaard" not in shown
        assert "zq@kommune.example" not in shown


def test_the_canary_test_can_fail(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    """Guard for the test above: with library loggers left talkative, SQL parameters carry
    the child's words into the log, and the canary is found."""
    configure_logging(logging.DEBUG, quiet_libraries=False)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    try:
        runtime = build(settings)
        with runtime.db.unit_of_work() as s:
            s.add(Conversation(chat_key=CANARY, fallback_streak=0))
        runtime.close()
        assert CANARY in caplog.text
    finally:
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        configure_logging(logging.WARNING)
