"""The Telegram adapter's pure pieces, without any process or network (no node needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.channels.telegram import translate
from bot.channels.telegram.app import file_base_url
from bot.channels.telegram.flood import FloodGate, FloodPolicy, merge
from bot.channels.telegram.formatting import MESSAGE_LIMIT, render, size, split
from bot.channels.telegram.send import retry_after_seconds, transient
from bot.channels.telegram.texts import MENU_COMMANDS
from bot.channels.telegram.updates import tolerate
from bot.config import Settings
from bot.dialogue.commands import COMMANDS
from bot.dialogue.messages import Button, Reply, UserMessage

from .harness import BARNEBOT, REPO

# -- formatting -----------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return text.split()


def test_short_text_is_one_escaped_message_with_its_buttons() -> None:
    reply = Reply("Du må <ikke> få at vide & så videre", (Button("Menu", "menu"),))
    [out] = render(reply)
    assert out.html == "Du må &lt;ikke&gt; få at vide &amp; så videre"
    assert out.plain == reply.text
    assert out.keyboard is not None
    assert out.keyboard.inline_keyboard[0][0].callback_data == "menu"


def test_long_text_is_split_at_paragraphs_and_buttons_go_last() -> None:
    paragraphs = [f"Afsnit {i}. " + "ord " * 300 for i in range(8)]
    text = "\n\n".join(paragraphs)
    out = render(Reply(text, (Button("Menu", "menu"),)))
    assert len(out) > 1
    assert all(size(o.plain) <= MESSAGE_LIMIT for o in out)
    assert all(o.plain.startswith("Afsnit") for o in out), "cut between paragraphs"
    assert [o.keyboard is not None for o in out] == [False] * (len(out) - 1) + [True]
    assert _words(" ".join(o.plain for o in out)) == _words(text)


def test_escaping_counts_toward_the_limit() -> None:
    text = "<&>" * 2000  # 6000 characters, 26000 once escaped
    chunks = split(text)
    assert all(size(c) <= MESSAGE_LIMIT for c in chunks)
    assert "".join(chunks) == text


def test_emoji_count_as_two_units() -> None:
    chunks = split("😀" * 3000)
    assert [len(c) for c in chunks] == [2048, 952]


def test_a_payload_over_64_bytes_is_left_out() -> None:
    [out] = render(Reply("x", (Button("ok", "menu"), Button("for lang", "topic:" + "å" * 40))))
    assert out.keyboard is not None
    assert [row[0].callback_data for row in out.keyboard.inline_keyboard] == ["menu"]


def test_empty_reply_sends_nothing() -> None:
    assert render(Reply("   ")) == []


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab æø<&>.!?\n 😀")), min_size=0, max_size=3000
    ),
    st.integers(min_value=8, max_value=400),
)
def test_split_keeps_every_word_and_respects_the_limit(text: str, limit: int) -> None:
    chunks = split(text, limit)
    assert all(size(c) <= limit for c in chunks)
    assert "".join("".join(c.split()) for c in chunks) == "".join(text.split())


# -- translation ----------------------------------------------------------------------------


def _update(**payload: Any) -> Update:
    update = Update.de_json({"update_id": 1, **payload}, None)
    assert update is not None
    return update


def _message(chat_type: str = "private", chat_id: int = 42, **fields: Any) -> dict[str, Any]:
    return {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": chat_type},
        **fields,
    }


def test_text_and_commands_pass_through_scoped_to_telegram() -> None:
    message = _update(message=_message(text="/start K7Q2")).effective_message
    assert message is not None
    assert translate.from_message(message) == UserMessage("telegram:42", text="/start K7Q2")


def test_caption_is_text_and_media_alone_is_unsupported() -> None:
    photo = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    captioned = _update(message=_message(photo=photo, caption="hjælp")).effective_message
    bare = _update(message=_message(photo=photo)).effective_message
    assert captioned is not None and bare is not None
    assert translate.from_message(captioned).text == "hjælp"
    assert translate.from_message(bare).unsupported


@pytest.mark.parametrize("chat_type", ["group", "supergroup", "channel"])
def test_anything_outside_a_private_chat_is_in_group(chat_type: str) -> None:
    message = _update(message=_message(chat_type, -5, text="hej")).effective_message
    assert message is not None
    translated = translate.from_message(message)
    assert translated.in_group and translated.text is None


def test_button_press_carries_the_raw_data_for_the_core_to_validate() -> None:
    query = {
        "id": "1",
        "chat_instance": "c",
        "from": {"id": 42, "is_bot": False, "first_name": "B"},
        "message": _message(text="menu"),
        "data": "topic:../../x",
    }
    update = _update(callback_query=query)
    assert update.callback_query is not None
    assert translate.from_button(update.callback_query) == UserMessage(
        "telegram:42", button="topic:../../x"
    )
    inline = {k: v for k, v in query.items() if k != "message"} | {"inline_message_id": "i"}
    inline_update = _update(callback_query=inline)
    assert inline_update.callback_query is not None
    assert translate.from_button(inline_update.callback_query) is None


# -- flood control --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _text(text: str) -> UserMessage:
    return UserMessage("telegram:1", text=text)


def test_burst_then_held_back_then_released_together() -> None:
    clock = Clock()
    gate = FloodGate(FloodPolicy(burst=3, interval=2.0, notice_every=60), clock)
    assert [gate.admit("c", _text(str(i))).now for i in range(3)] == [True] * 3
    first = gate.admit("c", _text("3"))
    assert not first.now and first.notice and first.release_in == pytest.approx(2.0)
    later = gate.admit("c", _text("4"))
    assert not later.now and not later.notice and later.release_in is None
    clock.now = 2.0
    assert gate.release("c") == [_text("3\n4")]
    assert gate.held_back("c") == 0
    clock.now = 10.0
    assert gate.admit("c", _text("5")).now, "the bucket refills"


def test_chats_are_throttled_separately() -> None:
    gate = FloodGate(FloodPolicy(burst=1), Clock())
    assert gate.admit("a", _text("x")).now
    assert not gate.admit("a", _text("y")).now
    assert gate.admit("b", _text("x")).now


def test_merge_keeps_every_word_and_the_last_press() -> None:
    button = UserMessage("telegram:1", button="rights")
    sticker = UserMessage("telegram:1", unsupported=True)
    assert merge([_text("a"), button, _text("b"), button]) == [_text("a\nb"), button]
    assert merge([_text("a"), sticker]) == [_text("a")]
    assert merge([sticker, sticker]) == [sticker]
    assert merge([_text("a"), _text("/robot")]) == [_text("a"), _text("/robot")]
    big = [_text("x" * 6000), _text("y" * 6000)]
    assert merge(big) == [_text("y" * 6000)], "the newest words are kept whole"


# -- sending, texts, settings ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_what_is_worth_another_try() -> None:
    assert transient(RetryAfter(timedelta(seconds=3)))
    assert transient(TimedOut())
    assert transient(NetworkError("httpx.ConnectError"))
    assert not transient(BadRequest("Can't parse entities"))
    assert not transient(Forbidden("bot was blocked by the user"))
    assert retry_after_seconds(RetryAfter(timedelta(seconds=3))) == 3.0


def test_menu_commands_are_valid_known_and_described_in_content() -> None:
    texts = yaml.safe_load((REPO / "content" / "ui.yml").read_text(encoding="utf-8"))["texts"]
    for name in MENU_COMMANDS:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
        assert name in COMMANDS
        assert 3 <= len(texts[f"cmd_{name}"]) <= 256
    assert {"slow_down", "technical_error"} <= set(texts)


def test_file_url_sits_next_to_the_api_url() -> None:
    assert file_base_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_base_url("http://127.0.0.1:9000/bot") == "http://127.0.0.1:9000/file/bot"
    assert file_base_url("http://h/bot{token}") == "http://h/file/bot{token}"


def test_webhook_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BARNEBOT_WEBHOOK_URL", "https://bot.example.dk/tg")
    monkeypatch.setenv("BARNEBOT_WEBHOOK_PORT", "9443")
    monkeypatch.setenv("BARNEBOT_WEBHOOK_SECRET", "abc_DEF-123")
    loaded = Settings()
    assert loaded.webhook_url == "https://bot.example.dk/tg"
    assert (loaded.webhook_listen, loaded.webhook_port) == ("127.0.0.1", 9443)
    assert loaded.webhook_secret == "abc_DEF-123" and loaded.health_port is None
    monkeypatch.setenv("BARNEBOT_WEBHOOK_SECRET", "not allowed!")
    with pytest.raises(ValueError):
        Settings()


def test_an_unreadable_update_becomes_a_stub() -> None:
    good = {"update_id": 1, "message": _message(text="hej")}
    bad = {"update_id": 2, "message": {"message_id": 3}}
    payload = tolerate(json.dumps({"ok": True, "result": [good, bad]}).encode())
    result = json.loads(payload)["result"]
    assert result == [good, {"update_id": 2}]


def test_run_without_a_token_says_so_and_exits_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
    done = subprocess.run(
        [*BARNEBOT, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert "TELEGRAM_TOKEN" in done.stderr
