"""A child's conversation with ``barnebot run`` over the Telegram Bot API (the emulator)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from .child import BotMessage, Child, all_payloads, joined
from .conftest import requires_emulator
from .harness import TOKEN, TelegramStack
from .ui import first_line

pytestmark = requires_emulator


def test_welcome_says_it_is_a_robot_with_buttons_in_html(stack: TelegramStack) -> None:
    child = stack.child()
    replies = child.ask("/start")
    assert "robot" in joined(replies).lower()
    assert all(m.parse_mode == "HTML" for m in replies)
    payloads = all_payloads(replies)
    assert "topic:rights_overview" in payloads
    assert all(len(p.encode()) <= 64 for p in payloads)
    # "typing…" was shown in this chat before the answer
    actions = [c for c in stack.shim.calls("sendChatAction") if c["chat_id"] == child.chat_id]
    assert actions and actions[0]["action"] == "typing"
    # link previews off: answers carry source links that would otherwise unfurl
    sent = [c for c in stack.shim.calls("sendMessage") if c["chat_id"] == child.chat_id]
    assert sent and all(c["link_preview_options"] == {"is_disabled": True} for c in sent)


def test_command_menu_is_danish_and_known_to_the_core(stack: TelegramStack) -> None:
    calls = stack.shim.calls("setMyCommands")
    assert calls, "setMyCommands was never called"
    commands = {c["command"]: c["description"] for c in calls[-1]["commands"]}
    assert {"start", "hjaelp", "rettigheder", "kontakt", "besked", "slet"} <= set(commands)
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", name) for name in commands)
    assert commands["rettigheder"] == first_line("cmd_rettigheder")
    child = stack.child()
    for name in commands:
        replies = child.ask(f"/{name}")
        assert first_line("unknown_command") not in joined(replies), name


def test_deep_link_code_is_taken_kindly(stack: TelegramStack) -> None:
    child = stack.child()
    replies = child.ask("/start K7Q2-M9XP")
    assert "robot" in joined(replies).lower()
    assert all_payloads(replies)


def test_rights_question_with_typos_gets_a_sourced_answer(stack: TelegramStack) -> None:
    child = stack.child()
    child.ask("hej")
    replies = child.ask("hvd er en bisider")
    text = joined(replies)
    assert "§" in text
    assert "isidder" in text.lower()
    assert all_payloads(replies)


def test_a_button_path_three_levels_deep(stack: TelegramStack) -> None:
    child = stack.child()
    level0 = child.ask("/start")[-1]
    child.press(level0.button("topic:rights_overview"), on=level0)
    level1 = child.read()[-1]
    assert "§" in level1.text
    child.press(level1.button("rights"), on=level1)
    level2 = child.read()[-1]
    assert level2.text.startswith(first_line("rights_menu_prompt"))
    child.press(level2.button("topic:complaint"), on=level2)
    level3 = child.read()[-1]
    assert "§" in level3.text and "lag" in level3.text.lower()
    child.press(level3.button("more:complaint"), on=level3)
    level4 = child.read()[-1]
    assert level4.text != level3.text
    assert level4.payloads(), "every answer offers a next step"


def test_forged_and_oversized_button_data_get_a_kind_answer(stack: TelegramStack) -> None:
    child = stack.child()
    child.ask("/start")
    for forged in ("topic:../../etc", "delete:yes", "x" * 200, ""):
        replies = child.tap(forged)
        text = joined(replies)
        assert first_line("stale_button") in text or first_line("delete_cancelled") in text
        assert all_payloads(replies)


def _conversation(child: Child, municipality: str) -> list[BotMessage]:
    got = child.ask("/kontakt")
    got += child.ask(municipality)
    got += child.ask("hvad er en bisidder")
    return got


def test_two_children_at_once_never_mix(stack: TelegramStack) -> None:
    saga, noah = stack.child(first_name="Saga"), stack.child(first_name="Noah")
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(_conversation, saga, "Odense")
        b = pool.submit(_conversation, noah, "Aalborg")
        saga_sees, noah_sees = joined(a.result()), joined(b.result())
    assert "Odense" in saga_sees and "Aalborg" not in saga_sees
    assert "Aalborg" in noah_sees and "Odense" not in noah_sees


def test_logs_carry_no_words_or_names_of_a_child(stack: TelegramStack) -> None:
    child = stack.child(first_name="Ingeborgmarie")
    child.ask("min hemmelige kode er zebrablomst og jeg bor i Svendborg")
    child.ask("<b>fed</b> & 'citat'")
    logs = stack.bot.log_text()
    secrets = ("zebrablomst", "Ingeborgmarie", "Svendborg", "citat", str(child.chat_id), TOKEN)
    for secret in secrets:
        assert secret not in logs
    assert stack.bot.events(), "the bot logs structured JSON"
