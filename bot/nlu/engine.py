"""The NLU engine interface and the choice of engine from settings."""

from __future__ import annotations

from typing import Protocol

from bot.nlu.result import ParseResult


class NluEngine(Protocol):
    name: str

    @property
    def threshold(self) -> float:
        """Below this confidence an intent becomes ``out_of_scope``."""
        ...

    def parse(self, text: str) -> ParseResult:
        """Intent and entities for one message, in Rasa's ``/model/parse`` shape."""
        ...
