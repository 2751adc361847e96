"""Sending to Telegram: HTML chunks with buttons, the "typing…" action, and what goes wrong.

- Flood control (429 ``RetryAfter``): ``AIORateLimiter`` waits and retries first; should it
  give up, we wait the time Telegram asked for and try again.
- Network errors and timeouts: back off and retry a few times. A timeout can hide a message
  that did arrive, so a child may rarely see an answer twice; that is accepted, because an
  answer lost (an urgent one above all) is worse than one shown twice.
- A child who blocked the bot (403): stop sending to that chat, nothing crashes.
- HTML Telegram refuses (should never happen: everything is escaped): send it as plain text.

Logs carry event names and error classes only, never text.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Iterable
from datetime import timedelta

from telegram import Bot, LinkPreviewOptions
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.channels.telegram.formatting import Outgoing, render
from bot.dialogue.messages import Reply

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class ChatUnreachable(Exception):
    """The child blocked the bot, or the chat is gone: nothing more can be sent there."""


def retry_after_seconds(error: RetryAfter) -> float:
    """The wait Telegram asked for (an int or a timedelta, depending on ``PTB_TIMEDELTA``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def transient(error: TelegramError) -> bool:
    """Flood control, a network error or a timeout: worth another try. (``BadRequest`` is a
    ``NetworkError`` in PTB, but a request Telegram refused stays refused.)"""
    if isinstance(error, RetryAfter | TimedOut):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


class Sender:
    def __init__(self, bot: Bot, *, attempts: int = 5, backoff: float = 0.5) -> None:
        self.bot = bot
        self.attempts = attempts
        self.backoff = backoff

    async def replies(self, chat_id: int, replies: Iterable[Reply]) -> None:
        """Send every reply, in order. Raises ``ChatUnreachable`` if the child blocked us."""
        for reply in replies:
            for outgoing in render(reply):
                await self.message(chat_id, outgoing)

    async def message(self, chat_id: int, outgoing: Outgoing) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                await self._send(chat_id, outgoing)
                return
            except Forbidden as error:
                raise ChatUnreachable from error
            except BadRequest as error:
                if "entities" not in str(error).lower():
                    raise
                log.error("telegram refused our HTML; sending plain text")
                await self._send(chat_id, outgoing, plain=True)
                return
            except TelegramError as error:
                if attempt == self.attempts or not transient(error):
                    raise
                wait = retry_after_seconds(error) + 0.5 if isinstance(error, RetryAfter) else delay
                log.warning(
                    "sending failed; retrying",
                    extra={"error": type(error).__name__, "attempt": attempt, "wait_s": wait},
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, 10.0)

    async def _send(self, chat_id: int, outgoing: Outgoing, *, plain: bool = False) -> None:
        await self.bot.send_message(
            chat_id=chat_id,
            text=outgoing.plain if plain else outgoing.html,
            parse_mode=None if plain else ParseMode.HTML,
            reply_markup=outgoing.keyboard,
            link_preview_options=NO_PREVIEW,
        )

    async def typing(self, chat_id: int) -> None:
        """Show "typing…" while the answer is prepared. Best effort: never fails the answer."""
        try:
            await self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
        except TelegramError as error:
            log.debug("chat action failed", extra={"error": type(error).__name__})
