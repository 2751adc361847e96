"""The casework operations staff and children perform, each inside the caller's session."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.casework import codes
from bot.casework.hours import parse as parse_hours
from bot.storage.models import (
    Caseworker,
    ChildLink,
    CodeAttempt,
    InviteCode,
    MunicipalityContact,
    OutboxMessage,
    utcnow,
)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PER_CHAT_FAILURES = 5
PER_CHAT_WINDOW = timedelta(hours=1)
GLOBAL_FAILURES = 100
GLOBAL_WINDOW = timedelta(minutes=10)
MAX_MESSAGE_CHARS = 4000


class CaseworkError(ValueError):
    """A request staff made that cannot be done (unknown e-mail, bad office hours…)."""


# -- caseworkers -----------------------------------------------------------------------------


def caseworker_by_email(session: Session, email: str) -> Caseworker:
    found = session.scalars(
        select(Caseworker).where(func.lower(Caseworker.email) == email.strip().lower())
    ).one_or_none()
    if found is None:
        raise CaseworkError(f"no caseworker with e-mail {email}")
    return found


def add_caseworker(
    session: Session,
    *,
    name: str,
    email: str,
    phone: str | None = None,
    title: str | None = None,
    municipality_code: str | None = None,
    office_hours: str | None = None,
) -> Caseworker:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise CaseworkError(f"not an e-mail address: {email}")
    if not name.strip():
        raise CaseworkError("name is empty")
    if office_hours:
        parse_hours(office_hours)
    exists = session.scalars(select(Caseworker).where(Caseworker.email == email)).one_or_none()
    if exists is not None:
        raise CaseworkError(f"a caseworker with e-mail {email} exists already")
    worker = Caseworker(
        name=name.strip(),
        email=email,
        phone=phone,
        title=title,
        municipality_code=municipality_code,
        office_hours=office_hours,
        active=True,
    )
    session.add(worker)
    session.flush()
    return worker


def update_caseworker(session: Session, email: str, **changes: str | None) -> Caseworker:
    worker = caseworker_by_email(session, email)
    if changes.get("office_hours"):
        parse_hours(str(changes["office_hours"]))
    for field, value in changes.items():
        if value is not None:
            setattr(worker, field, value)
    return worker


def deactivate_caseworker(session: Session, email: str) -> Caseworker:
    worker = caseworker_by_email(session, email)
    worker.active = False
    return worker


# -- invite codes ----------------------------------------------------------------------------


def create_invite(
    session: Session,
    *,
    caseworker_email: str,
    key: bytes,
    child_name: str | None = None,
    days: int = 30,
    now: datetime | None = None,
) -> tuple[str, InviteCode]:
    worker = caseworker_by_email(session, caseworker_email)
    if not worker.active:
        raise CaseworkError(f"caseworker {caseworker_email} is deactivated")
    now = now or utcnow()
    code = codes.generate()
    invite = InviteCode(
        code_hash=codes.digest(code, key),
        caseworker_id=worker.id,
        child_display_name=(child_name or "").strip()[:80] or None,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(invite)
    session.flush()
    return code, invite


def revoke_invite(session: Session, code_text: str, key: bytes) -> bool:
    code = codes.normalise(code_text)
    if code is None:
        return False
    result = session.execute(
        update(InviteCode)
        .where(InviteCode.code_hash == codes.digest(code, key), InviteCode.used_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


RedeemStatus = Literal["linked", "invalid", "locked", "busy"]


@dataclass(frozen=True)
class Redeemed:
    status: RedeemStatus
    link: ChildLink | None = None


def _recent_failures(session: Session, since: datetime, chat_key: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(CodeAttempt)
        .where(CodeAttempt.at >= since, CodeAttempt.success.is_(False))
    )
    if chat_key is not None:
        query = query.where(CodeAttempt.chat_key == chat_key)
    return int(session.scalar(query) or 0)


def redeem(
    session: Session, chat_key: str, code_text: str, key: bytes, now: datetime | None = None
) -> Redeemed:
    """Link a chat with the code's caseworker. Rate limited per chat and overall; every
    failure looks the same to the child (no hint whether a code exists)."""
    now = now or utcnow()
    if _recent_failures(session, now - PER_CHAT_WINDOW, chat_key) >= PER_CHAT_FAILURES:
        return Redeemed("locked")
    if _recent_failures(session, now - GLOBAL_WINDOW) >= GLOBAL_FAILURES:
        return Redeemed("busy")
    code = codes.normalise(code_text)
    invite = None
    if code is not None:
        invite = session.scalars(
            select(InviteCode)
            .where(InviteCode.code_hash == codes.digest(code, key))
            .with_for_update()
        ).one_or_none()
    usable = (
        invite is not None
        and invite.used_at is None
        and invite.revoked_at is None
        and invite.expires_at > now
    )
    session.add(CodeAttempt(chat_key=chat_key, success=usable, at=now))
    if not usable or invite is None:
        return Redeemed("invalid")
    worker = session.get(Caseworker, invite.caseworker_id)
    if worker is None or not worker.active:
        return Redeemed("invalid")
    invite.used_at = now
    link = session.scalars(select(ChildLink).where(ChildLink.chat_key == chat_key)).one_or_none()
    if link is None:
        link = ChildLink(chat_key=chat_key)
        session.add(link)
    link.caseworker_id = worker.id
    link.caseworker = worker
    link.display_name = invite.child_display_name
    link.linked_at = now
    link.announced_caseworker_id = worker.id
    session.flush()
    return Redeemed("linked", link)


# -- children's links ------------------------------------------------------------------------


def link_for(session: Session, chat_key: str) -> ChildLink | None:
    return session.scalars(select(ChildLink).where(ChildLink.chat_key == chat_key)).one_or_none()


def links_of(session: Session, caseworker_email: str) -> list[ChildLink]:
    worker = caseworker_by_email(session, caseworker_email)
    return list(
        session.scalars(
            select(ChildLink).where(ChildLink.caseworker_id == worker.id).order_by(ChildLink.id)
        )
    )


def reassign(session: Session, link_id: int, new_email: str) -> ChildLink:
    link = session.get(ChildLink, link_id)
    if link is None:
        raise CaseworkError(f"no child link {link_id}")
    worker = caseworker_by_email(session, new_email)
    if not worker.active:
        raise CaseworkError(f"caseworker {new_email} is deactivated")
    link.caseworker_id = worker.id
    link.caseworker = worker
    return link


def unlink(session: Session, link_id: int) -> None:
    if session.execute(delete(ChildLink).where(ChildLink.id == link_id)).rowcount == 0:  # type: ignore[attr-defined]
        raise CaseworkError(f"no child link {link_id}")


# -- municipalities --------------------------------------------------------------------------


def set_general_email(session: Session, code: str, email: str | None) -> None:
    if email is not None and not EMAIL_RE.match(email):
        raise CaseworkError(f"not an e-mail address: {email}")
    row = session.get(MunicipalityContact, code)
    if row is None:
        row = MunicipalityContact(code=code)
        session.add(row)
    row.general_email = email
    row.updated_at = utcnow()


def general_email(session: Session, code: str | None) -> str | None:
    if not code:
        return None
    row = session.get(MunicipalityContact, code)
    return row.general_email if row else None


# -- messages --------------------------------------------------------------------------------


def queue_message(
    session: Session,
    *,
    chat_key: str,
    body: str,
    urgent: bool,
    link: ChildLink | None,
    municipality_code: str | None,
) -> OutboxMessage | None:
    """Put a child's message in the outbox (the caller's transaction commits it before the
    child is told "gemt"). None when there is nobody to send it to."""
    if link is not None and link.caseworker.active:
        recipient, name = link.caseworker.email, link.caseworker.name
        caseworker_id: int | None = link.caseworker.id
        municipality_code = link.caseworker.municipality_code or municipality_code
    else:
        address = general_email(session, municipality_code)
        if address is None:
            return None
        recipient, name, caseworker_id = address, None, None
    message = OutboxMessage(
        reference=secrets.token_hex(8),
        chat_key=chat_key,
        caseworker_id=caseworker_id,
        municipality_code=municipality_code,
        recipient=recipient,
        recipient_name=name,
        display_name=link.display_name if link else None,
        body=body[:MAX_MESSAGE_CHARS],
        urgent=urgent,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    session.flush()
    return message


def has_undelivered(session: Session, chat_key: str) -> bool:
    """Whether a message of this chat is still on its way to the mail server."""
    return (
        session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.chat_key == chat_key,
                OutboxMessage.status.in_(("pending", "sending")),
            )
            .limit(1)
        )
        is not None
    )


def undelivered_receipts(session: Session, chat_key: str) -> list[OutboxMessage]:
    """Messages the mail server accepted that the child has not been told about yet."""
    return list(
        session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.chat_key == chat_key,
                OutboxMessage.status == "sent",
                OutboxMessage.receipt_delivered.is_(False),
            )
        )
    )


def delivered_unannounced(
    session: Session, chat_prefix: str, limit: int = 100
) -> list[OutboxMessage]:
    """Sent messages whose child has not been told yet, for one channel's chats."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == "sent",
                OutboxMessage.receipt_delivered.is_(False),
                OutboxMessage.chat_key.startswith(chat_prefix, autoescape=True),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
