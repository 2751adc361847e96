"""ORM models. No message text and no names are stored by the conversation tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.storage.crypto import EncryptedText


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
    #: the message a child is writing to their caseworker, until they send or cancel it
    draft: Mapped[str | None] = mapped_column(EncryptedText())
    draft_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: hints that spare two queries per message for the many children without a link or a
    #: message on its way; a stale hint only costs the query it would have saved
    linked: Mapped[bool] = mapped_column(Boolean, default=False)
    awaiting_receipt: Mapped[bool] = mapped_column(Boolean, default=False)
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


class MunicipalityContact(Base):
    """Operator settings per municipality: where unlinked children's messages go."""

    __tablename__ = "municipality_contacts"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    general_email: Mapped[str | None] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Caseworker(Base):
    """A børne- og ungerådgiver. Shown to the children linked to them, and only to those."""

    __tablename__ = "caseworkers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    #: e.g. "man-tor 9:00-15:00; fre 9:00-12:00" (parsed and formatted with Babel)
    office_hours: Mapped[str | None] = mapped_column(String(200))
    municipality_code: Mapped[str | None] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChildLink(Base):
    """A chat linked to one caseworker. ``display_name`` is the pseudonym the caseworker chose
    (never a CPR number); the child's Telegram name is never stored."""

    __tablename__ = "child_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("caseworkers.id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(80))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: the caseworker the child was last told about (a reassignment is announced once)
    announced_caseworker_id: Mapped[int | None] = mapped_column(Integer)

    caseworker: Mapped[Caseworker] = relationship(lazy="joined")


class InviteCode(Base):
    """A single-use code a caseworker gives one child. Only its hash is stored."""

    __tablename__ = "invite_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    caseworker_id: Mapped[int] = mapped_column(ForeignKey("caseworkers.id"), index=True)
    child_display_name: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CodeAttempt(Base):
    """One try at typing an invite code, for rate limiting (per chat and overall)."""

    __tablename__ = "code_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_key: Mapped[str] = mapped_column(String(128), index=True)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class OutboxMessage(Base):
    """A child's message to a caseworker (or a municipality's general address).

    Written in the same transaction that tells the child "gemt"; the forwarding worker
    delivers it by SMTP. ``reference`` gives the stable Message-ID, so a resend after a
    crash is recognisable as the same message.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    chat_key: Mapped[str | None] = mapped_column(String(128), index=True)
    caseworker_id: Mapped[int | None] = mapped_column(ForeignKey("caseworkers.id"))
    municipality_code: Mapped[str | None] = mapped_column(String(3))
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str | None] = mapped_column(String(120))
    display_name: Mapped[str | None] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(EncryptedText())
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: pending → sending → sent, or → dead after too many failed attempts
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the child has been told "sendt til …"
    receipt_delivered: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def message_id(self) -> str:
        return f"<{self.reference}@barnebot.invalid>"


class DeliveryAttempt(Base):
    """One try at handing a message to the mail server. Error class only, never content."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # sent | failed | dead
    error: Mapped[str | None] = mapped_column(String(120))
