"""Slash commands a child can type (Telegram shows them in its menu; the terminal accepts them).

The command words are identifiers; what the bot says about them lives in content/.
"""

from __future__ import annotations

from typing import Final

#: command → intent it stands for ("start" is the welcome)
COMMANDS: Final[dict[str, str]] = {
    "start": "greet",
    "hjaelp": "help",
    "hjælp": "help",
    "help": "help",
    "menu": "help",
    "rettigheder": "rights_overview",
    "kontakt": "who_is_my_caseworker",
    "besked": "leave_message",
    "privatliv": "privacy",
    "slet": "delete_my_data",
    "robot": "bot_challenge",
    "snak": "talk_to_someone",
}


def split_command(text: str) -> tuple[str, str] | None:
    """``"/start ABC"`` → ("start", "ABC"); ``"/hjaelp@barnebot"`` → ("hjaelp", "")."""
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return name, rest.strip()
