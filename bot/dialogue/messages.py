"""What a channel hands the core, and what the core hands back. No channel types here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserMessage:
    """One thing a child did in a chat, already translated from the channel's wire format.

    ``chat_id`` is scoped by the channel ("telegram:42", "terminal:local"): two channels never
    share state by accident.
    """

    chat_id: str
    text: str | None = None
    button: str | None = None
    #: a sticker, photo, voice message… anything the core cannot read
    unsupported: bool = False
    #: written in a group or channel, where others read along
    in_group: bool = False


@dataclass(frozen=True)
class Button:
    label: str
    payload: str


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    #: the content topic this reply came from (for the answer log), if any
    topic: str | None = None
    urgent: bool = False
    meta: dict[str, str] = field(default_factory=dict, compare=False)
