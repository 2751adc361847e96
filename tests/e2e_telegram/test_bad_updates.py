"""Every kind of update gets a kind Danish answer, and nothing crashes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .child import Child, all_payloads, joined
from .conftest import requires_emulator
from .harness import TelegramStack
from .ui import first_line

pytestmark = requires_emulator

FILE = {"file_id": "AgADBAADbarnebot", "file_unique_id": "AQADbarnebot"}
NON_TEXT: dict[str, dict[str, Any]] = {
    "sticker": {
        "sticker": {
            **FILE,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "😀",
        }
    },
    "photo": {"photo": [{**FILE, "width": 90, "height": 90}]},
    "voice": {"voice": {**FILE, "duration": 3, "mime_type": "audio/ogg"}},
    "video": {"video": {**FILE, "width": 640, "height": 480, "duration": 5}},
    "video_note": {"video_note": {**FILE, "length": 240, "duration": 4}},
    "document": {"document": {**FILE, "file_name": "brev.pdf", "mime_type": "application/pdf"}},
    "location": {"location": {"latitude": 55.6761, "longitude": 12.5683}},
    "contact": {"contact": {"phone_number": "+4512345678", "first_name": "Mor"}},
    "poll": {
        "poll": {
            "id": "5001",
            "question": "Hvad skal vi spise?",
            "options": [
                {"text": "Pizza", "voter_count": 0, "persistent_id": "p1"},
                {"text": "Suppe", "voter_count": 0, "persistent_id": "p2"},
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
    },
}


def _failures(stack: TelegramStack) -> list[dict[str, Any]]:
    return [e for e in stack.bot.events() if e.get("event") == "update failed"]


@pytest.mark.parametrize("kind", sorted(NON_TEXT))
def test_non_text_gets_a_kind_answer_and_the_menu(stack: TelegramStack, kind: str) -> None:
    child = stack.child()
    child.send_raw(**NON_TEXT[kind])
    replies = child.read()
    assert first_line("not_text") in joined(replies)
    assert all_payloads(replies), "a next step is offered"


def test_a_caption_is_read_as_text(stack: TelegramStack) -> None:
    child = stack.child()
    child.send_raw(**NON_TEXT["photo"], caption="hvad er en bisidder")
    text = joined(child.read())
    assert first_line("not_text") not in text
    assert "isidder" in text.lower()


def test_an_edited_message_is_answered_as_the_corrected_words(stack: TelegramStack) -> None:
    child = stack.child()
    child.ask("hej")
    now = int(time.time())
    stack.shim.inject(
        {
            "edited_message": {
                "message_id": 424242,
                "date": now - 5,
                "edit_date": now,
                "chat": {"id": child.chat_id, "type": "private", "first_name": "Barn"},
                "from": {"id": child.user_id, "is_bot": False, "first_name": "Barn"},
                "text": "hvad er en bisidder",
            }
        }
    )
    assert "isidder" in joined(child.read()).lower()


@pytest.mark.parametrize("text", ["🙂", "😢😢😢", "👍"])
def test_emoji_only_gets_an_answer(stack: TelegramStack, text: str) -> None:
    child = stack.child()
    replies = child.ask(text)
    assert joined(replies).strip()
    assert all_payloads(replies)


def test_ten_thousand_characters(stack: TelegramStack) -> None:
    child = stack.child()
    long_text = ("jeg vil gerne vide noget om mine rettigheder " * 250)[:10_000]
    assert len(long_text) == 10_000
    replies = child.ask(long_text, timeout=30)
    assert joined(replies).strip()
    assert all(len(m.html) <= 4096 for m in replies)


def test_unknown_command(stack: TelegramStack) -> None:
    child = stack.child()
    replies = child.ask("/findesikke")
    assert first_line("unknown_command") in joined(replies)
    assert all_payloads(replies)


def test_a_group_message_is_asked_to_go_private_once(stack: TelegramStack) -> None:
    group = stack.child(chat_type="group")
    replies = group.ask("hej alle sammen, jeg bliver slået derhjemme")
    assert first_line("group_chat") in joined(replies)
    assert not all_payloads(replies), "no personal menu in a group"
    group.say("er der nogen?")
    assert group.silence(1.5) == [], "the bot does not chatter in groups"


def test_a_channel_post_is_answered_with_the_group_text(stack: TelegramStack) -> None:
    channel = Child(stack.emulator.url, stack.shim.token, -1009876543210, chat_type="channel")
    stack.children.append(channel)
    stack.shim.inject(
        {
            "channel_post": {
                "message_id": 7,
                "date": int(time.time()),
                "chat": {"id": channel.chat_id, "type": "channel", "title": "Nyheder"},
                "text": "Velkommen til kanalen",
            }
        }
    )
    assert first_line("group_chat") in joined(channel.read())


def test_blocking_and_unblocking_is_noted_without_an_answer(stack: TelegramStack) -> None:
    child = stack.child()
    child.ask("hej")
    now = int(time.time())
    bot = {"id": 666, "is_bot": True, "first_name": "barnebot"}

    def member(status: str) -> dict[str, Any]:
        extra = {"until_date": 0} if status == "kicked" else {}
        return {"user": bot, "status": status, **extra}

    for old, new in (("member", "kicked"), ("kicked", "member")):
        stack.shim.inject(
            {
                "my_chat_member": {
                    "chat": {"id": child.chat_id, "type": "private", "first_name": "Barn"},
                    "from": {"id": child.user_id, "is_bot": False, "first_name": "Barn"},
                    "date": now,
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )
    assert child.silence(1.0) == []
    assert child.ask("hej igen")


def test_an_update_the_library_cannot_read_is_skipped_not_fatal(stack: TelegramStack) -> None:
    child = stack.child()
    bad_id = stack.shim.inject({"message": {"message_id": 1, "text": "no chat, no date"}})
    replies = child.ask("hej")
    assert replies, "polling goes on past the unreadable update"
    skipped = [e for e in stack.bot.events() if e.get("event") == "update not understood; skipped"]
    assert [e["update_id"] for e in skipped] == [bad_id]


def test_nothing_in_the_matrix_crashed_or_failed(stack: TelegramStack) -> None:
    assert stack.bot.process is not None and stack.bot.process.poll() is None
    assert _failures(stack) == []
