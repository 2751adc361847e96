"""Incoming flood control per chat: slow a flood down, never lose the child's last message.

Each chat has a token bucket: ``burst`` messages are answered at once, then one answer per
``interval`` seconds. Messages that arrive while a chat is held back are collected, and when the
chat's turn comes they are answered together (``merge``): the texts joined in order (so the
safety layer reads every word the child wrote), and a final button press, command or sticker
after them. The child is told once per episode that the answer is coming.

Pure bookkeeping on the event loop: ``admit`` decides synchronously, so messages of one chat
keep their order; the per-chat lock serialises the answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.dialogue.messages import UserMessage

#: the core reads at most this many characters of one message
MAX_TEXT_CHARS = 10_000
#: prune idle chats once this many are tracked
_PRUNE_ABOVE = 10_000


@dataclass(frozen=True)
class FloodPolicy:
    burst: int = 5
    interval: float = 2.0
    #: at most one "slow down" notice per chat this often (seconds)
    notice_every: float = 60.0


@dataclass(frozen=True)
class Admission:
    """What to do with one incoming message."""

    #: answer it now
    now: bool
    #: tell the child to wait a moment
    notice: bool = False
    #: schedule a release of the held-back messages after this many seconds
    release_in: float | None = None


@dataclass
class _Chat:
    tokens: float
    updated: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: list[UserMessage] = field(default_factory=list)
    release_scheduled: bool = False
    noticed_at: float | None = None


def _is_plain_text(message: UserMessage) -> bool:
    return (
        message.button is None
        and not message.unsupported
        and message.text is not None
        and not message.text.lstrip().startswith("/")
    )


def merge(batch: list[UserMessage]) -> list[UserMessage]:
    """Held-back messages → what the core is asked, in order.

    The plain texts become one message (the newest kept whole if they exceed the core's
    limit); the last message, when it is a button press, a command or a non-text, follows.
    Button presses and commands in the middle of a flood are superseded by the last one.
    """
    if not batch:
        return []
    chat_id = batch[-1].chat_id
    texts = [m.text for m in batch if _is_plain_text(m) and m.text and m.text.strip()]
    kept: list[str] = []
    used = 0
    for text in reversed(texts):
        if used + len(text) > MAX_TEXT_CHARS and kept:
            break
        kept.append(text)
        used += len(text) + 1
    merged: list[UserMessage] = []
    if kept:
        merged.append(UserMessage(chat_id, text="\n".join(reversed(kept))))
    last = batch[-1]
    if not _is_plain_text(last) and not (last.unsupported and merged):
        merged.append(last)
    return merged or [last]


class FloodGate:
    def __init__(
        self, policy: FloodPolicy | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or FloodPolicy()
        self._clock = clock
        self._chats: dict[str, _Chat] = {}

    def lock(self, key: str) -> asyncio.Lock:
        """Held while one chat is answered: its answers never overlap or reorder."""
        return self._chat(key).lock

    def admit(self, key: str, message: UserMessage) -> Admission:
        now = self._clock()
        chat = self._chat(key)
        self._refill(chat, now)
        if chat.pending or chat.release_scheduled:
            chat.pending.append(message)
            return Admission(now=False, notice=self._notice_due(chat, now))
        if chat.tokens >= 1:
            chat.tokens -= 1
            return Admission(now=True)
        chat.pending.append(message)
        chat.release_scheduled = True
        wait = (1 - chat.tokens) * self.policy.interval
        return Admission(now=False, notice=self._notice_due(chat, now), release_in=wait)

    def release(self, key: str) -> list[UserMessage]:
        """The chat's turn has come: the held-back messages, merged; spends one token."""
        chat = self._chat(key)
        self._refill(chat, self._clock())
        chat.release_scheduled = False
        chat.tokens = max(0.0, chat.tokens - 1)
        batch, chat.pending = chat.pending, []
        return merge(batch)

    def held_back(self, key: str) -> int:
        chat = self._chats.get(key)
        return len(chat.pending) if chat else 0

    # -- internals ------------------------------------------------------------------------
    def _chat(self, key: str) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) >= _PRUNE_ABOVE:
                self._prune()
            chat = self._chats[key] = _Chat(tokens=float(self.policy.burst), updated=self._clock())
        return chat

    def _refill(self, chat: _Chat, now: float) -> None:
        gained = (now - chat.updated) / self.policy.interval
        chat.tokens = min(float(self.policy.burst), chat.tokens + gained)
        chat.updated = now

    def _notice_due(self, chat: _Chat, now: float) -> bool:
        if chat.noticed_at is not None and now - chat.noticed_at < self.policy.notice_every:
            return False
        chat.noticed_at = now
        return True

    def _prune(self) -> None:
        now = self._clock()
        for key, chat in list(self._chats.items()):
            self._refill(chat, now)
            idle = not chat.pending and not chat.release_scheduled and not chat.lock.locked()
            if idle and chat.tokens >= self.policy.burst:
                del self._chats[key]
