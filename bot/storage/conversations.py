"""Conversation state and the answer log: the queries the dialogue core needs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.storage.models import (
    AnswerLog,
    ChildLink,
    CodeAttempt,
    Conversation,
    OutboxMessage,
    utcnow,
)


def get_or_create(session: Session, chat_key: str) -> Conversation:
    conversation = session.scalars(
        select(Conversation).where(Conversation.chat_key == chat_key)
    ).one_or_none()
    if conversation is not None:
        return conversation
    conversation = Conversation(chat_key=chat_key, fallback_streak=0)
    try:
        with session.begin_nested():
            session.add(conversation)
    except IntegrityError:  # another worker created it first
        return session.scalars(select(Conversation).where(Conversation.chat_key == chat_key)).one()
    return conversation


def log_answer(
    session: Session, conversation: Conversation, topic_id: str, version: int, digest: str
) -> None:
    session.add(
        AnswerLog(
            conversation_id=conversation.id,
            topic_id=topic_id,
            topic_version=version,
            content_hash=digest,
        )
    )


def delete_chat(session: Session, chat_key: str) -> int:
    """Delete everything stored for one chat: state, answer log, link, code attempts and
    messages not yet delivered — also one a worker is sending right now: if the mail server
    takes it, it is with the caseworker; if the worker dies first, no one sends it later.
    Delivered messages are with the caseworker already; here their text and the tie to this
    chat are removed. Returns how many conversations went."""
    ids = select(Conversation.id).where(Conversation.chat_key == chat_key)
    session.execute(delete(AnswerLog).where(AnswerLog.conversation_id.in_(ids)))
    session.execute(delete(ChildLink).where(ChildLink.chat_key == chat_key))
    session.execute(delete(CodeAttempt).where(CodeAttempt.chat_key == chat_key))
    session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.chat_key == chat_key, OutboxMessage.status != "sent"
        )
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.chat_key == chat_key)
        .values(chat_key=None, body="")
    )
    result = session.execute(delete(Conversation).where(Conversation.chat_key == chat_key))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_inactive(session: Session, days: int, now: datetime | None = None) -> int:
    """Retention: forget conversations (and their answer logs) inactive for ``days``."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    stale = select(Conversation.id).where(Conversation.updated_at < cutoff)
    session.execute(delete(AnswerLog).where(AnswerLog.conversation_id.in_(stale)))
    result = session.execute(delete(Conversation).where(Conversation.updated_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_delivered(session: Session, days: int, now: datetime | None = None) -> int:
    """Retention: delivered messages (with the caseworker by mail) leave our database."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = session.execute(
        delete(OutboxMessage).where(OutboxMessage.status == "sent", OutboxMessage.sent_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def rotate_keys(session: Session) -> int:
    """Re-encrypt every stored message text and draft with the newest key."""
    from sqlalchemy import column, table

    from bot.storage.crypto import rotate

    count = 0
    for name, field in (("outbox", "body"), ("conversations", "draft")):
        raw = table(name, column("id"), column(field))  # raw tokens, not decrypted
        for row_id, token in session.execute(select(raw.c.id, raw.c[field])).all():
            if token:
                session.execute(
                    update(raw).where(raw.c.id == row_id).values({field: rotate(token)})
                )
                count += 1
    return count
