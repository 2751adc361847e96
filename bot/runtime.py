"""Assemble the pieces from settings: content, NLU engine, safety layer, database, assistant."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings, get_settings, secret_key
from bot.content.loader import ContentStore, load
from bot.dialogue.assistant import Assistant
from bot.nlu.embedded import EmbeddedEngine
from bot.nlu.engine import NluEngine
from bot.safety.layer import SafetyLayer
from bot.storage import conversations
from bot.storage.db import Database, ensure_schema

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    content: ContentStore
    embedded: EmbeddedEngine
    nlu: NluEngine
    safety: SafetyLayer
    db: Database
    assistant: Assistant

    def close(self) -> None:
        close = getattr(self.nlu, "close", None)  # the rasa engine's HTTP client
        if callable(close):
            close()
        self.db.dispose()


def build_embedded(settings: Settings) -> EmbeddedEngine:
    return EmbeddedEngine.from_directory(settings.nlu_dir, settings.cache_dir)


def build_nlu(settings: Settings, embedded: EmbeddedEngine) -> NluEngine:
    """The engine ``BARNEBOT_NLU_ENGINE`` names. ``rasa`` asks a Rasa server and falls back
    to ``embedded`` for any message Rasa cannot answer in time (bot/nlu/rasa.py)."""
    if settings.nlu_engine == "rasa":
        from bot.nlu.rasa import RasaEngine, fallback_threshold

        if not settings.rasa_token:  # Settings refuses this too; kept for hand-made Settings
            raise ValueError("BARNEBOT_NLU_ENGINE=rasa needs BARNEBOT_RASA_TOKEN")
        return RasaEngine(
            settings.rasa_url,
            settings.rasa_token,
            local=embedded,
            entities=embedded.entities,
            threshold=fallback_threshold(settings.nlu_dir / "config.yml"),
            timeout=settings.rasa_timeout,
            retry_seconds=settings.rasa_retry_seconds,
        )
    return embedded


def retention(db: Database, settings: Settings) -> None:
    """Forget what is kept no longer than needed (run at start and by `barnebot retention`)."""
    with db.unit_of_work() as session:
        inactive = conversations.purge_inactive(session, settings.retention_days)
        delivered = conversations.purge_delivered(session, settings.delivered_retention_days)
    if inactive or delivered:
        log.info("retention", extra={"conversations": inactive, "delivered_messages": delivered})


def build(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    settings = settings or get_settings()
    content = load(settings.content_dir)
    for doc_id, doc in content.documents():
        if not doc.is_approved:
            log.error("content not approved; it will not be served", extra={"doc": doc_id})
    embedded = build_embedded(settings)
    nlu = build_nlu(settings, embedded)
    safety = SafetyLayer(classifier=embedded)
    db = Database(settings.database_url)
    if migrate:
        ensure_schema(db.engine)
    retention(db, settings)
    assistant = Assistant(content, nlu, safety, db, secret_key(settings))
    return Runtime(settings, content, embedded, nlu, safety, db, assistant)
