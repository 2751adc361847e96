"""The ``rasa`` NLU engine: a Rasa Open Source server's ``/model/parse``, over HTTP.

Rasa runs in its own Python 3.10 venv (``scripts/rasa/``); barnebot only talks to its HTTP API,
always with the auth token (that API can also replace the model). Rasa's answer is mapped to
our parse result: ``nlu_fallback`` (Rasa's FallbackClassifier) becomes ``out_of_scope``, and
the entities come from the embedded engine's extractors (``age`` as an int, ``municipality``
as the official name, fuzzy on typos) rather than from Rasa — they were clearly better on the
held-out set (README, "Running Rasa").

Rasa is never allowed to leave a child without an answer. When it is down, slow (longer than
``timeout``) or answers something that is not a parse result, that message is answered by the
embedded engine and the circuit opens: for ``retry_seconds`` every message goes to the
embedded engine at once, without waiting for a timeout again; the first message after that
tries Rasa again, and a good answer closes the circuit. Logs carry the error class, never the
message text (nor the URL, which holds the token).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot import intents
from bot.nlu.engine import NluEngine
from bot.nlu.result import Entity, Intent, ParseResult
from bot.nlu.text import clip

log = logging.getLogger(__name__)

#: the intent Rasa's FallbackClassifier predicts below its threshold
RASA_FALLBACK = "nlu_fallback"
#: Rasa's own default for FallbackClassifier.threshold
DEFAULT_THRESHOLD = 0.3


class InvalidAnswer(ValueError):
    """The server answered, but not with a parse result of this model (wrong server, wrong
    model, a proxy's error page): treated like an outage."""


def fallback_threshold(config_path: Path) -> float:
    """``FallbackClassifier.threshold`` from the Rasa pipeline (``nlu/config.yml``)."""
    try:
        config: dict[str, Any] = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except OSError:
        return DEFAULT_THRESHOLD
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", DEFAULT_THRESHOLD))
    return DEFAULT_THRESHOLD


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAnswer("confidence is not a number")
    number = float(value)
    if not (math.isfinite(number) and -1e-6 <= number <= 1 + 1e-6):
        raise InvalidAnswer("confidence out of range")
    return round(min(max(number, 0.0), 1.0), 4)


def _intent(raw: Any) -> Intent:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise InvalidAnswer("intent without a name")
    name = raw["name"]
    if name not in intents.ALL and name != RASA_FALLBACK:
        raise InvalidAnswer("intent unknown to barnebot")
    return Intent(name=name, confidence=_confidence(raw.get("confidence")))


def map_answer(text: str, answer: Any, entities: Callable[[str], list[Entity]]) -> ParseResult:
    """Rasa's ``/model/parse`` answer → our parse result (raises ``InvalidAnswer``).

    ``nlu_fallback`` becomes ``out_of_scope`` with the confidence of Rasa's best real intent
    (so the ranking and the confidence say how unsure it was); ``nlu_fallback`` itself is
    dropped from the ranking. Entities come from ``entities`` (the embedded extractors).
    """
    if not isinstance(answer, dict):
        raise InvalidAnswer("answer is not an object")
    top = _intent(answer.get("intent"))
    raw_ranking = answer.get("intent_ranking")
    if raw_ranking is None:
        raw_ranking = [answer["intent"]]
    if not isinstance(raw_ranking, list):
        raise InvalidAnswer("intent_ranking is not a list")
    ranking = [i for i in (_intent(r) for r in raw_ranking) if i["name"] != RASA_FALLBACK]
    if top["name"] == RASA_FALLBACK:
        best = ranking[0]["confidence"] if ranking else 0.0
        top = Intent(name=intents.FALLBACK, confidence=best)
    return ParseResult(
        text=text,
        intent=top,
        entities=entities(text),
        intent_ranking=ranking,
        engine=RasaEngine.name,
    )


class RasaEngine:
    """``NluEngine`` backed by a Rasa server, with the embedded engine as its fallback."""

    name = "rasa"

    def __init__(
        self,
        url: str,
        token: str,
        local: NluEngine,
        entities: Callable[[str], list[Entity]],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        timeout: float = 1.0,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.local = local
        self._entities = entities
        self._threshold = threshold
        self._url = url.rstrip("/") + "/model/parse"
        self._token = token
        self._retry_seconds = retry_seconds
        self._clock = clock
        # No proxies from the environment: a child's words go to this server and nowhere else.
        self._client = httpx.Client(timeout=timeout, trust_env=False)
        self._lock = threading.Lock()
        self._open_until: float | None = None  # circuit open (Rasa not asked) until then
        self._since_failure = 0  # messages the embedded engine answered since Rasa failed
        self._counts = {"rasa": 0, "embedded": 0}

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def available(self) -> bool:
        """False from a failure until Rasa answers well again."""
        with self._lock:
            return self._open_until is None

    @property
    def stats(self) -> dict[str, int]:
        """How many messages Rasa answered, and how many the embedded engine in its place."""
        with self._lock:
            return dict(self._counts)

    def parse(self, text: str) -> ParseResult:
        if not text.strip():
            return self.local.parse(text)  # nothing to ask a server about
        with self._lock:
            circuit_open = self._open_until is not None and self._clock() < self._open_until
            if circuit_open:
                self._since_failure += 1
                self._counts["embedded"] += 1
        if circuit_open:
            return self.local.parse(text)
        try:
            response = self._client.post(
                self._url, params={"token": self._token}, json={"text": clip(text)}
            )
            response.raise_for_status()
            result = map_answer(text, response.json(), self._entities)
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: bad JSON, InvalidAnswer
            self._failed(exc)
            return self.local.parse(text)
        self._succeeded()
        return result

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            retrying = self._open_until is not None
            self._open_until = self._clock() + self._retry_seconds
            self._since_failure += 1
            self._counts["embedded"] += 1
        extra: dict[str, Any] = {
            "error": type(exc).__name__,
            "retry_seconds": self._retry_seconds,
        }
        if isinstance(exc, httpx.HTTPStatusError):
            extra["status"] = exc.response.status_code
        log.warning(
            "rasa still unavailable; answering with the embedded engine"
            if retrying
            else "rasa unavailable; answering with the embedded engine",
            extra=extra,
        )

    def _succeeded(self) -> None:
        with self._lock:
            self._counts["rasa"] += 1
            if self._open_until is None:
                return
            self._open_until = None
            answered, self._since_failure = self._since_failure, 0
        log.warning("rasa is back", extra={"answered_by_embedded": answered})

    def close(self) -> None:
        self._client.close()
