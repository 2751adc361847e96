"""The PTB handlers. Each one translates one kind of update and hands it to the core.

``on_private_message``  text, commands, edits, captions and everything a child cannot mean as
                        text (stickers, photos, voice…) in a private chat
``on_button``           inline keyboard presses
``on_group``            anything in a group or channel: the core asks the child to write
                        privately (at most once per group per ``group_reply_every``)
``on_membership``       the child blocked or unblocked the bot: noted, nothing sent
``on_error``            the global error handler: error class and update id, never text

The core is synchronous (one database transaction per message), so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import ChatMember, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.telegram import translate
from bot.channels.telegram.flood import FloodGate, FloodPolicy
from bot.channels.telegram.send import ChatUnreachable, Sender
from bot.channels.telegram.texts import ChannelTexts
from bot.dialogue.messages import Reply, UserMessage

log = logging.getLogger(__name__)

Handle = Callable[[UserMessage], list[Reply]]
Context = ContextTypes.DEFAULT_TYPE
AnyApplication = Application[Any, Any, Any, Any, Any, Any]

#: the update types the bot asks Telegram for
ALLOWED_UPDATES: tuple[str, ...] = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
)


def _update_id(update: object) -> int | None:
    return update.update_id if isinstance(update, Update) else None


class TelegramChannel:
    def __init__(
        self,
        handle: Handle,
        texts: ChannelTexts,
        *,
        flood: FloodPolicy | None = None,
        group_reply_every: float = 600.0,
    ) -> None:
        self.handle = handle
        self.texts = texts
        self.gate = FloodGate(flood)
        self.group_reply_every = group_reply_every
        self._group_replied: dict[int, float] = {}
        self._sender: Sender | None = None

    def register(self, application: AnyApplication) -> None:
        self._sender = Sender(application.bot)
        application.add_handler(MessageHandler(~filters.ChatType.PRIVATE, self.on_group))
        application.add_handler(
            MessageHandler(
                filters.ChatType.PRIVATE
                & filters.UpdateType.MESSAGES
                & ~filters.StatusUpdate.ALL,  # service notes (auto-delete timer…) need no answer
                self.on_private_message,
            )
        )
        application.add_handler(CallbackQueryHandler(self.on_button))
        application.add_handler(
            ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_error_handler(self.on_error)

    @property
    def sender(self) -> Sender:
        if self._sender is None:
            raise RuntimeError("register() the channel on an Application first")
        return self._sender

    # -- handlers -------------------------------------------------------------------------
    async def on_private_message(self, update: Update, context: Context) -> None:
        message = update.effective_message
        if message is None:
            return
        await self.converse(update, context, message.chat.id, translate.from_message(message))

    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        # Stop the spinner on the child's button at once, alongside the answer; admission
        # below happens before anything is awaited, so the chat's order is kept.
        spinner = asyncio.create_task(self._answer_query(update))
        try:
            message = translate.from_button(query)
            if message is None or query.message is None:
                return
            if message.in_group:
                await self.reply_in_group(query.message.chat.id)
                return
            await self.converse(update, context, query.message.chat.id, message)
        finally:
            await spinner

    async def on_group(self, update: Update, _context: Context) -> None:
        chat = update.effective_chat
        if chat is not None:
            await self.reply_in_group(chat.id)

    async def on_membership(self, update: Update, _context: Context) -> None:
        change = update.my_chat_member
        if change is None or not translate.is_private(change.chat):
            return
        status = change.new_chat_member.status
        if status in (ChatMember.BANNED, ChatMember.LEFT):
            log.info("a child blocked the bot", extra={"update_id": update.update_id})
        elif status == ChatMember.MEMBER:
            log.info("a child unblocked the bot", extra={"update_id": update.update_id})

    async def on_error(self, update: object, context: Context) -> None:
        """Log the error class and the update id, never text or names; tell the child kindly."""
        error = context.error
        log.error(
            "update failed",
            extra={"error": type(error).__name__, "update_id": _update_id(update)},
        )
        if isinstance(error, ChatUnreachable | Forbidden) or not isinstance(update, Update):
            return
        chat = update.effective_chat
        if chat is None or not translate.is_private(chat):
            return
        try:
            await self.sender.replies(chat.id, [self.texts.technical_error()])
        except Exception as second:  # the error handler itself must not fail
            log.error("could not tell the child", extra={"error": type(second).__name__})

    @staticmethod
    async def _answer_query(update: Update) -> None:
        if update.callback_query is None:
            return
        try:
            await update.callback_query.answer()
        except TelegramError as error:
            log.debug("answering a button press failed", extra={"error": type(error).__name__})

    # -- the conversation -----------------------------------------------------------------
    async def converse(
        self, update: Update, context: Context, chat_id: int, message: UserMessage
    ) -> None:
        """Answer now, or hold back a flooding chat and answer its messages together later."""
        key = message.chat_id
        admission = self.gate.admit(key, message)
        if admission.release_in is not None:
            context.application.create_task(
                self._release(chat_id, key, admission.release_in), update=update
            )
        if admission.now:
            await self.answer(chat_id, message)
        elif admission.notice:
            log.info("incoming flood held back", extra={"update_id": update.update_id})
            async with self.gate.lock(key):  # after the answers already under way
                await self._send(chat_id, [self.texts.slow_down()])

    async def _release(self, chat_id: int, key: str, delay: float) -> None:
        await asyncio.sleep(delay)
        for message in self.gate.release(key):
            await self.answer(chat_id, message)

    async def answer(self, chat_id: int, message: UserMessage) -> None:
        async with self.gate.lock(message.chat_id):
            typing = asyncio.create_task(self.sender.typing(chat_id))
            try:
                replies = await asyncio.to_thread(self.handle, message)
            finally:
                await typing
            await self._send(chat_id, replies)

    async def reply_in_group(self, chat_id: int) -> None:
        """Never talk about personal matters where others read along; and don't chatter."""
        now = time.monotonic()
        last = self._group_replied.get(chat_id)
        if last is not None and now - last < self.group_reply_every:
            return
        self._group_replied[chat_id] = now
        if len(self._group_replied) > 10_000:
            cutoff = now - self.group_reply_every
            self._group_replied = {k: v for k, v in self._group_replied.items() if v > cutoff}
        replies = await asyncio.to_thread(
            self.handle, UserMessage(translate.chat_key(chat_id), in_group=True)
        )
        await self._send(chat_id, replies)

    async def _send(self, chat_id: int, replies: list[Reply]) -> None:
        try:
            await self.sender.replies(chat_id, replies)
        except ChatUnreachable:
            log.info("chat unreachable (blocked or gone); answer dropped")
