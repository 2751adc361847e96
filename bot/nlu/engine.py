"""The NLU engine interface and the choice of engine from settings."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

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


@runtime_checkable
class RemoteEngine(NluEngine, Protocol):
    """An engine behind a server (Rasa). ``local`` is the in-process engine that answers when
    the server cannot, and whenever the safety layer has flagged a message."""

    local: NluEngine
