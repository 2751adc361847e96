"""Tasks that run beside the Telegram bot in ``barnebot run``: pushing receipts to children
and the daily retention clean-up. (The forwarding worker is ``bot.forwarding``.)"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from bot.channels.telegram.send import Sender
from bot.config import Settings
from bot.runtime import Runtime, retention

log = logging.getLogger(__name__)
PREFIX = "telegram:"


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def push_receipts(
    runtime: Runtime, sender: Sender, stop: asyncio.Event, every: float = 5.0
) -> None:
    """Tell a child "sendt til Mette" soon after the mail server accepted their message."""
    while not stop.is_set():
        try:
            for chat_key, reply in await asyncio.to_thread(
                runtime.assistant.collect_receipts, PREFIX
            ):
                await sender.replies(int(chat_key.removeprefix(PREFIX)), [reply])
        except Exception as error:  # the next round tries again; receipts are not critical
            log.warning("receipts round failed", extra={"error": type(error).__name__})
        await _wait(stop, every)


async def daily_retention(
    runtime: Runtime, settings: Settings, stop: asyncio.Event, every: float = 24 * 3600
) -> None:
    while not stop.is_set():
        await _wait(stop, every)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(retention, runtime.db, settings)
        except Exception as error:
            log.warning("retention round failed", extra={"error": type(error).__name__})
