"""Restarts, Telegram going away, flood control, network errors, blocked chats, floods."""

from __future__ import annotations

import signal
import time

from .child import all_payloads, joined
from .conftest import StackFactory, requires_emulator
from .harness import TelegramStack
from .shim import Fault
from .ui import first_line

pytestmark = requires_emulator


def _events(stack: TelegramStack, name: str) -> list[dict[str, object]]:
    return [e for e in stack.bot.events() if e.get("event") == name]


def test_restart_mid_conversation_keeps_the_childs_place(own_stack: StackFactory) -> None:
    stack = own_stack()
    child = stack.child()
    child.ask("/start")
    asked = child.ask("/kontakt")
    assert first_line("municipality_ask").split(",")[0] in joined(asked)
    assert stack.restart_bot() == 0, "SIGTERM: clean exit"
    answer = joined(child.ask("Odense"))
    assert "Odense" in answer, "the question asked before the restart is still open"
    assert "robot" not in answer.lower(), "no second welcome: the conversation went on"
    assert stack.bot.stop(signal.SIGINT) == 0, "Ctrl-C: clean exit"
    assert _events(stack, "telegram channel stopped")


def test_an_answer_under_way_is_finished_on_shutdown(own_stack: StackFactory) -> None:
    stack = own_stack()
    child = stack.child()
    child.ask("hej")
    stack.shim.fail("sendMessage", Fault.retry_after(2), chat_id=child.chat_id)
    child.say("hvad er en bisidder")
    stack.wait_until(lambda: stack.shim.armed() == 0, what="the answer to be under way")
    assert stack.bot.stop() == 0
    assert "isidder" in joined(child.read()).lower()


def test_telegram_going_away_and_coming_back(own_stack: StackFactory) -> None:
    stack = own_stack()
    child = stack.child()
    assert child.ask("/start")
    stack.emulator_away()
    time.sleep(4)
    stack.emulator_back()
    # What the child writes after Telegram is back is answered (PTB backs off ≤ 30 s).
    replies = child.ask("hvad er en bisidder", timeout=60)
    assert "isidder" in joined(replies).lower()
    assert stack.bot.process is not None and stack.bot.process.poll() is None
    assert _events(stack, "polling failed; retrying"), "the outage was noticed and logged"


def test_start_while_telegram_is_unreachable(own_stack: StackFactory) -> None:
    stack = own_stack()
    stack.bot.stop()
    stack.shim.stop()  # the bot's Bot API address refuses connections
    stack.bot.start(wait=False)
    stack.bot.wait_for("telegram unreachable at start; retrying")
    stack.shim.start()
    stack.bot.wait_for("telegram channel running", timeout=60)
    assert stack.child().ask("/start")


def test_a_token_telegram_rejects_stops_the_bot_with_a_clear_log(
    own_stack: StackFactory,
) -> None:
    stack = own_stack()
    stack.bot.stop()
    stack.bot.env["TELEGRAM_TOKEN"] = "4242:not-the-token"
    stack.bot.start(wait=False)
    assert stack.bot.process is not None
    assert stack.bot.process.wait(120) == 2
    stack.bot.process = None
    assert _events(stack, "telegram rejected the token (TELEGRAM_TOKEN)")
    assert "not-the-token" not in stack.bot.log_text()


def test_flood_control_from_telegram_is_waited_out(stack: TelegramStack) -> None:
    child = stack.child()
    stack.shim.fail("sendMessage", Fault.retry_after(1), times=2, chat_id=child.chat_id)
    started = time.monotonic()
    replies = child.ask("/start", timeout=30)
    assert "robot" in joined(replies).lower()
    assert time.monotonic() - started >= 1.0
    assert stack.shim.armed() == 0
    assert len(replies) == 1, "sent once, not once per try"


def test_a_dropped_connection_is_retried(stack: TelegramStack) -> None:
    child = stack.child()
    stack.shim.fail("sendMessage", Fault.network(), times=2, chat_id=child.chat_id)
    replies = child.ask("/start", timeout=30)
    assert len(replies) == 1 and "robot" in replies[0].text.lower()
    assert stack.shim.armed() == 0


def test_a_child_who_blocked_the_bot_breaks_nothing(stack: TelegramStack) -> None:
    blocked, other = stack.child(), stack.child()
    stack.shim.fail("sendMessage", Fault.blocked(), times=3, chat_id=blocked.chat_id)
    try:
        blocked.say("/start")
        stack.wait_until(lambda: stack.shim.armed() < 3, what="the bot to try the blocked chat")
        assert other.ask("/start")
        assert stack.bot.process is not None and stack.bot.process.poll() is None
        assert stack.shim.armed() == 2, "no retries into a blocked chat"
        assert not _events(stack, "could not tell the child")
    finally:
        stack.shim.clear_faults()


def test_command_menu_and_typing_failing_do_not_stop_the_bot(own_stack: StackFactory) -> None:
    # The emulator answers setMyCommands and sendChatAction with HTTP 500, as it does.
    stack = own_stack(serve_unserved=False)
    replies = stack.child().ask("/start")
    assert "robot" in joined(replies).lower()
    assert _events(stack, "command menu not set")


def test_an_incoming_flood_is_slowed_and_the_last_message_answered(
    stack: TelegramStack,
) -> None:
    child = stack.child()
    child.ask("/start")
    for i in range(15):
        child.say(f"hej {i}")
    child.press("rights")
    replies = child.read(at_least=3, settle=3.0, timeout=40)
    texts = [m.text for m in replies]
    assert sum(first_line("slow_down") in t for t in texts) == 1, texts
    assert texts[-1].startswith(first_line("rights_menu_prompt")), "the last message is answered"
    assert len(replies) < 16, "slowed down: fewer answers than messages"
    assert all_payloads(replies[-1:])
