"""Button payloads: a tiny, validated grammar. Anything else is a stale or forged press.

``menu`` · ``rights`` · ``topic:<intent>`` · ``more:<intent>`` · ``delete:yes|no`` ·
``message:send|edit|cancel``
All fit well inside Telegram's 64-byte ``callback_data`` limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot import intents

MAX_BYTES = 64
_ACTIONS_WITH_TOPIC = frozenset({"topic", "more"})
_SIMPLE = frozenset({"menu", "rights"})
_CHOICES = {
    "delete": frozenset({"yes", "no"}),
    "message": frozenset({"send", "edit", "cancel"}),
}


@dataclass(frozen=True)
class Payload:
    action: str
    arg: str | None = None

    def encode(self) -> str:
        return self.action if self.arg is None else f"{self.action}:{self.arg}"


def topic(intent: str) -> str:
    return Payload("topic", intent).encode()


def more(intent: str) -> str:
    return Payload("more", intent).encode()


def parse(raw: str) -> Payload | None:
    """The payload, or None when it is not one this version of barnebot would have sent."""
    if not raw or len(raw.encode("utf-8")) > MAX_BYTES:
        return None
    action, sep, arg = raw.strip().partition(":")
    if not sep:
        return Payload(action) if action in _SIMPLE else None
    if action in _ACTIONS_WITH_TOPIC and arg in intents.ALL:
        return Payload(action, arg)
    if action in _CHOICES and arg in _CHOICES[action]:
        return Payload(action, arg)
    return None
