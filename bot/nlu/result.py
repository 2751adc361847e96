"""The parse result, in the shape of Rasa's ``/model/parse`` answer."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class Intent(TypedDict):
    name: str
    confidence: float


class Entity(TypedDict):
    entity: str
    start: int
    end: int
    value: Any
    extractor: str
    confidence_entity: NotRequired[float]


class ParseResult(TypedDict):
    text: str
    intent: Intent
    entities: list[Entity]
    intent_ranking: list[Intent]
    safety: NotRequired[dict[str, Any]]
    engine: NotRequired[str]


def entity_value(result: ParseResult, name: str) -> Any:
    for entity in result["entities"]:
        if entity["entity"] == name:
            return entity["value"]
    return None
