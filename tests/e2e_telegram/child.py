"""A child on a phone, as far as the emulator's client API allows: write, tap, read.

Talks to telegram-test-api's client routes (``/sendMessage``, ``/sendCommand``,
``/sendCallback``, ``/getUpdates``) directly, never through the shim: what the child reads is
what the bot really sent to the emulator, per chat.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class BotMessage:
    """One message the bot sent to this chat."""

    html: str
    parse_mode: str | None
    buttons: list[tuple[str, str]]
    message_id: int
    raw: dict[str, Any] = field(repr=False)

    @property
    def text(self) -> str:
        return html.unescape(self.html) if self.parse_mode == "HTML" else self.html

    def payloads(self) -> list[str]:
        return [payload for _label, payload in self.buttons]

    def button(self, payload: str) -> str:
        """The payload of the button that has it (or starts with it); fails if there is none."""
        for _label, candidate in self.buttons:
            if candidate == payload or candidate.startswith(payload):
                return candidate
        raise AssertionError(f"no button {payload!r} in {self.payloads()}")


def _buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    markup = message.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or []
    return [(str(b.get("text")), str(b.get("callback_data"))) for row in rows for b in row]


class Child:
    def __init__(
        self,
        api: str,
        token: str,
        chat_id: int,
        *,
        first_name: str = "Barn",
        chat_type: str = "private",
        user_id: int | None = None,
    ) -> None:
        self.api = api.rstrip("/")
        self.token = token
        self.chat_id = chat_id
        self.user_id = user_id if user_id is not None else abs(chat_id)
        self.first_name = first_name
        self.chat_type = chat_type
        self.history: list[BotMessage] = []
        self._http = httpx.Client(timeout=10)

    def close(self) -> None:
        self._http.close()

    # -- what the child does --------------------------------------------------------------
    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name}

    def _chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.chat_id, "type": self.chat_type}
        if self.chat_type == "private":
            chat["first_name"] = self.first_name
        else:
            chat["title"] = "Klassens chat"
        return chat

    def _common(self) -> dict[str, Any]:
        return {
            "botToken": self.token,
            "from": self._user(),
            "chat": self._chat(),
            "date": int(time.time()),
        }

    def _post(self, route: str, body: dict[str, Any]) -> None:
        response = self._http.post(f"{self.api}/{route}", json=body)
        response.raise_for_status()

    def say(self, text: str) -> None:
        """Type a message; a leading /command is marked as a command, as Telegram does."""
        body = {**self._common(), "text": text}
        if text.startswith("/"):
            word = text.split(" ", 1)[0]
            body["entities"] = [{"offset": 0, "length": len(word), "type": "bot_command"}]
            self._post("sendCommand", body)
        else:
            self._post("sendMessage", body)

    def send_raw(self, **fields: Any) -> None:
        """Send a message with these fields instead of text (a sticker, a photo, a poll…)."""
        self._post("sendMessage", {**self._common(), **fields})

    def press(self, payload: str, on: BotMessage | None = None) -> None:
        """Tap a button with this callback data, on ``on`` (default: the last message read)."""
        message = on or (self.history[-1] if self.history else None)
        bot_message: dict[str, Any] = {
            "message_id": message.message_id if message else 1,
            "date": int(time.time()),
            "chat": self._chat(),
            "from": {"id": 666, "is_bot": True, "first_name": "barnebot"},
            "text": message.text if message else "",
        }
        self._post(
            "sendCallback",
            {"botToken": self.token, "from": self._user(), "message": bot_message, "data": payload},
        )

    # -- what the child reads -------------------------------------------------------------
    def _fetch(self) -> list[BotMessage]:
        response = self._http.post(
            f"{self.api}/getUpdates", json={"token": self.token, "chatId": self.chat_id}
        )
        response.raise_for_status()
        out = []
        for stored in response.json().get("result") or []:
            message = stored.get("message") or {}
            out.append(
                BotMessage(
                    html=str(message.get("text") or ""),
                    parse_mode=message.get("parse_mode"),
                    buttons=_buttons(message),
                    message_id=int(stored.get("messageId") or 0),
                    raw=message,
                )
            )
        return out

    def read(
        self, *, at_least: int = 1, settle: float = 0.5, timeout: float = 20.0
    ) -> list[BotMessage]:
        """The bot's messages: at least ``at_least``, then until ``settle`` s pass quietly."""
        got: list[BotMessage] = []
        deadline = time.monotonic() + timeout
        last_new = time.monotonic()
        while True:
            fresh = self._fetch()
            now = time.monotonic()
            if fresh:
                got.extend(fresh)
                last_new = now
            if len(got) >= at_least and now - last_new >= settle:
                break
            if now >= deadline:
                if len(got) >= at_least:
                    break
                raise AssertionError(
                    f"chat {self.chat_id}: expected {at_least} message(s) from the bot in "
                    f"{timeout}s, got {[m.text[:60] for m in got]}"
                )
            time.sleep(0.03)
        self.history.extend(got)
        return got

    def silence(self, seconds: float = 1.0) -> list[BotMessage]:
        """Whatever the bot sends in the next ``seconds`` (expected: nothing)."""
        time.sleep(seconds)
        return self._fetch()

    def ask(self, text: str, **read: Any) -> list[BotMessage]:
        self.say(text)
        return self.read(**read)

    def tap(self, payload: str, **read: Any) -> list[BotMessage]:
        self.press(payload)
        return self.read(**read)


def joined(messages: list[BotMessage]) -> str:
    return "\n".join(m.text for m in messages)


def all_payloads(messages: list[BotMessage]) -> list[str]:
    return [p for m in messages for p in m.payloads()]
