"""What the bot acts on for one text: the NLU engine's parse with the safety verdict applied.

Both the dialogue and ``barnebot nlu parse/eval`` go through ``understand``, so what the tools
report is exactly what a child would get.
"""

from __future__ import annotations

from bot import intents
from bot.nlu.engine import NluEngine, RemoteEngine
from bot.nlu.result import Intent, ParseResult
from bot.safety.layer import SafetyLayer

#: where a message goes that the classifier thought urgent but the safety layer did not flag
NOT_FLAGGED_URGENT = "talk_to_someone"


def understand(text: str, engine: NluEngine, safety: SafetyLayer) -> ParseResult:
    """Flagged by the safety layer → ``urgent_help``. The emergency answer is the safety
    layer's decision alone: an engine's low-confidence ``urgent_help`` that the layer did not
    flag becomes the next intent in the ranking, or ``talk_to_someone`` (adults to talk to).

    With a remote engine (Rasa) the safety layer judges the text first, on its own (lexicon
    and the embedded classifier, never the remote engine's ranking), and a flagged message is
    not sent to the server at all: an emergency never waits for, or depends on, a server.
    """
    if isinstance(engine, RemoteEngine):
        verdict = safety.check(text)
        result = engine.local.parse(text) if verdict.flagged else engine.parse(text)
        threshold = engine.threshold if result.get("engine") == engine.name else None
        threshold = engine.local.threshold if threshold is None else threshold
    else:
        result = engine.parse(text)
        verdict = safety.check(text, result.get("intent_ranking"))
        threshold = engine.threshold
    result["safety"] = verdict.as_dict()
    if verdict.flagged:
        result["intent"] = Intent(name=intents.URGENT, confidence=1.0)
    elif result["intent"]["name"] == intents.URGENT:
        runner_up = next((i for i in result["intent_ranking"] if i["name"] != intents.URGENT), None)
        if runner_up is not None and runner_up["confidence"] >= threshold:
            result["intent"] = runner_up
        else:
            result["intent"] = Intent(
                name=NOT_FLAGGED_URGENT, confidence=result["intent"]["confidence"]
            )
    return result
