"""ORM models. No message text and no names are stored by the conversation tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    """The state of one chat with one child. Keyed by channel and the channel's chat id."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    age: Mapped[int | None]
    municipality_code: Mapped[str | None] = mapped_column(String(3))
    form: Mapped[str | None] = mapped_column(String(32))
    last_topic: Mapped[str | None] = mapped_column(String(64))
    fallback_streak: Mapped[int] = mapped_column(default=0)
    robot_disclosed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    answers: Mapped[list[AnswerLog]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True
    )


class AnswerLog(Base):
    """Which approved content version a child was shown, and when. Never the child's text."""

    __tablename__ = "answer_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[str] = mapped_column(String(64))
    topic_version: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(80))
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)

    conversation: Mapped[Conversation] = relationship(back_populates="answers")
