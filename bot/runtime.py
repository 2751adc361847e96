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
        self.db.dispose()


def build_embedded(settings: Settings) -> EmbeddedEngine:
    return EmbeddedEngine.from_directory(settings.nlu_dir, settings.cache_dir)


def build_nlu(settings: Settings, embedded: EmbeddedEngine) -> NluEngine:
    if settings.nlu_engine == "rasa":
        raise NotImplementedError("the rasa engine is not built yet; use embedded")
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
