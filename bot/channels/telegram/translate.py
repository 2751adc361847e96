"""Telegram updates → the core's ``UserMessage``. Pure functions: no network, no state.

Chat ids are scoped by the channel ("telegram:42") so no other channel shares a child's state.
"""

from __future__ import annotations

from telegram import CallbackQuery, Chat, Message

from bot.dialogue.messages import UserMessage

CHANNEL = "telegram"


def chat_key(chat_id: int) -> str:
    return f"{CHANNEL}:{chat_id}"


def is_private(chat: Chat) -> bool:
    return chat.type == Chat.PRIVATE


def from_message(message: Message) -> UserMessage:
    """A message, an edited message or a channel post, as the core sees it.

    Text (commands included, ``/start <code>`` too) is passed on as typed; an edit is read as
    the child's corrected words. A photo or document with a caption is read by its caption, so
    the safety layer sees every word the child wrote. Anything else is ``unsupported``.
    """
    key = chat_key(message.chat.id)
    if not is_private(message.chat):
        return UserMessage(key, in_group=True)
    if message.text is not None:
        return UserMessage(key, text=message.text)
    if message.caption:
        return UserMessage(key, text=message.caption)
    return UserMessage(key, unsupported=True)


def from_button(query: CallbackQuery) -> UserMessage | None:
    """A button press; None when it is not tied to a chat (inline mode)."""
    if query.message is None:
        return None
    chat = query.message.chat
    key = chat_key(chat.id)
    if not is_private(chat):
        return UserMessage(key, in_group=True)
    # The payload is validated by the core: a forged or stale one gets a kind answer there.
    return UserMessage(key, button=query.data or "")
