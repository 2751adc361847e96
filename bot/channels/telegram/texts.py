"""The channel's own child-facing texts and its command menu, from approved ``content/ui.yml``.

No Danish sentence lives in Python: keys only. The menu's command words are identifiers the
core already understands (``bot/dialogue/commands.py``); their descriptions are ``cmd_<word>``.
"""

from __future__ import annotations

from telegram import BotCommand

from bot.dialogue.commands import COMMANDS
from bot.dialogue.messages import Reply
from bot.dialogue.responder import Responder

#: the commands shown in Telegram's menu, in this order
MENU_COMMANDS: tuple[str, ...] = (
    "start",
    "hjaelp",
    "rettigheder",
    "kontakt",
    "besked",
    "snak",
    "privatliv",
    "slet",
)
assert all(c in COMMANDS for c in MENU_COMMANDS), "menu command the core does not know"


class ChannelTexts:
    def __init__(self, responder: Responder) -> None:
        self.respond = responder

    def slow_down(self) -> Reply:
        return self.respond.text("slow_down")

    def technical_error(self) -> Reply:
        return self.respond.text("technical_error", self.respond.menu_buttons())

    def bot_commands(self) -> list[BotCommand]:
        return [BotCommand(name, self.respond.ui(f"cmd_{name}").strip()) for name in MENU_COMMANDS]

    def check(self) -> None:
        """Fail at start-up, not in a child's chat, when a text is missing from content."""
        self.slow_down()
        self.technical_error()
        self.bot_commands()
