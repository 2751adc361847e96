"""``Reply`` → what Telegram is sent: escaped HTML chunks under the length limit, and buttons.

Every dynamic value is escaped: a reply's text is plain text (content is rendered before it
gets here), so the whole text is escaped and no markup from content or a child can leak in.
Long replies are split at paragraph boundaries, then lines, sentences and words; the buttons
go with the last chunk.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.dialogue.messages import Button, Reply

log = logging.getLogger(__name__)

#: Telegram's limit for one message's text, counted in UTF-16 code units
MESSAGE_LIMIT = 4096
#: Telegram's limit for ``callback_data``, in bytes
CALLBACK_DATA_LIMIT = 64

# Coarsest first: paragraphs, lines, sentences, words. Each with the joiner that restores it.
_LEVELS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\n[ \t]*\n\s*"), "\n\n"),
    (re.compile(r"\n"), "\n"),
    (re.compile(r"(?<=[.!?…])\s+"), " "),
    (re.compile(r"\s+"), " "),
)


@dataclass(frozen=True)
class Outgoing:
    """One Telegram message: HTML text, the same text plain, and an optional keyboard."""

    html: str
    plain: str
    keyboard: InlineKeyboardMarkup | None = None


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def size(text: str) -> int:
    """Length as Telegram counts it, after escaping (a safe upper bound)."""
    return len(escape(text).encode("utf-16-le")) // 2


def split(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Plain-text chunks, each under ``limit`` once escaped, cut at the coarsest boundary."""
    return _split(text.strip(), limit, 0)


def _split(text: str, limit: int, level: int) -> list[str]:
    if not text:
        return []
    if size(text) <= limit:
        return [text]
    if level == len(_LEVELS):
        return _hard_split(text, limit)
    pattern, joiner = _LEVELS[level]
    chunks: list[str] = []
    current = ""
    for part in pattern.split(text):
        part = part.strip()
        if not part:
            continue
        for piece in _split(part, limit, level + 1):
            candidate = f"{current}{joiner}{piece}" if current else piece
            if size(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current:
        chunks.append(current)
    return chunks


def _hard_split(text: str, limit: int) -> list[str]:
    """A word longer than a message: cut by characters (never inside one)."""
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = size(char)
        if used + cost > limit and current:
            chunks.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    if current:
        chunks.append("".join(current))
    return chunks


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One button per row (easy to hit on a phone); a payload over 64 bytes is left out."""
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        if len(button.payload.encode("utf-8")) > CALLBACK_DATA_LIMIT:
            log.error("button payload too long for Telegram; left out")
            continue
        rows.append([InlineKeyboardButton(button.label, callback_data=button.payload)])
    return InlineKeyboardMarkup(rows) if rows else None


def render(reply: Reply, limit: int = MESSAGE_LIMIT) -> list[Outgoing]:
    chunks = split(reply.text, limit)
    markup = keyboard(reply.buttons)
    if not chunks:
        if markup is None:
            return []
        # Buttons need a text to hang on; an empty reply with buttons is a content mistake.
        chunks = ["…"]
    out = [Outgoing(escape(chunk), chunk) for chunk in chunks]
    last = out[-1]
    out[-1] = Outgoing(last.html, last.plain, markup)
    return out
