"""What the bot acts on for one text: the safety layer first, then the NLU engine."""

from __future__ import annotations

from bot import intents
from bot.nlu.engine import NluEngine
from bot.nlu.result import Intent, ParseResult
from bot.safety.layer import SafetyLayer


def understand(text: str, engine: NluEngine, safety: SafetyLayer) -> ParseResult:
    """The parse result with the safety verdict applied: flagged → ``urgent_help``."""
    result = engine.parse(text)
    verdict = safety.check(text, result.get("intent_ranking"))
    if verdict.flagged:
        result["intent"] = Intent(name=intents.URGENT, confidence=1.0)
    result["safety"] = verdict.as_dict()
    return result
