"""The terminal channel behind ``barnebot chat``: a person types, or a program speaks JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, Any

from bot.dialogue.messages import Reply, UserMessage

Handler = Callable[[UserMessage], list[Reply]]
LOCAL_CHAT = "terminal:local"
PROMPT = "> "
QUIT = {"/quit", "/exit", "/afslut"}


def _render(replies: list[Reply], out: IO[str]) -> list[str]:
    """Print replies with numbered buttons; returns the payloads by number."""
    choices: list[str] = []
    for reply in replies:
        out.write("\n" + reply.text.strip() + "\n")
        for button in reply.buttons:
            choices.append(button.payload)
            out.write(f"  [{len(choices)}] {button.label}\n")
    out.flush()
    return choices


def interactive(handle: Handler, inp: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> None:
    """A person at a terminal: type text, or a number to press a button."""
    choices = _render(handle(UserMessage(LOCAL_CHAT, text="/start")), out)
    while True:
        out.write(PROMPT)
        out.flush()
        line = inp.readline()
        if not line:
            break
        line = line.rstrip("\n")
        if line.strip() in QUIT:
            break
        number = line.strip()
        if number.isdigit() and 1 <= int(number) <= len(choices):
            message = UserMessage(LOCAL_CHAT, button=choices[int(number) - 1])
        else:
            message = UserMessage(LOCAL_CHAT, text=line)
        choices = _render(handle(message), out)


def _to_json(replies: list[Reply]) -> dict[str, Any]:
    return {
        "replies": [
            {
                "text": r.text,
                "buttons": [{"label": b.label, "payload": b.payload} for b in r.buttons],
            }
            for r in replies
        ]
    }


def _from_json(line: str) -> UserMessage | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    chat = data.get("chat", "local")
    chat_id = f"terminal:{chat}"
    button, text = data.get("button"), data.get("text")
    if isinstance(button, str):
        return UserMessage(chat_id, button=button)
    if isinstance(text, str):
        return UserMessage(chat_id, text=text)
    return UserMessage(chat_id, unsupported=True)


def json_lines(handle: Handler, inp: IO[str] = sys.stdin, out: IO[str] = sys.stdout) -> None:
    """The machine protocol of ``barnebot chat --json``: one JSON object per line each way."""
    for line in inp:
        if not line.strip():
            continue
        message = _from_json(line)
        if message is None:
            document: dict[str, Any] = {"replies": [], "error": "invalid JSON object"}
        else:
            document = _to_json(handle(message))
        out.write(json.dumps(document, ensure_ascii=False) + "\n")
        out.flush()
