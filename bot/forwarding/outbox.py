"""The outbox's state machine, each step one short transaction (sessions come from the caller).

    pending ──claim──▶ sending ──accepted by the relay──▶ sent
       ▲                 │
       └──failure, backoff┘──after the last attempt──▶ dead ──requeue──▶ pending

A claim is a lease: ``claimed_by`` and ``claimed_until``. A worker that dies mid-send leaves
its message in ``sending``; when the lease lapses another worker (or the restarted one) claims
it again, so nothing is lost, and the resend carries the same Message-ID. ``attempts`` counts
claims, so a message that keeps killing its worker still ends as a dead letter.

Claiming on PostgreSQL is ``SELECT id … LIMIT n FOR UPDATE SKIP LOCKED`` then ``UPDATE … WHERE
id IN (…) RETURNING`` in one short transaction, so concurrent workers get disjoint rows
without waiting for each other. SQLite has a single writer: there it is one ``UPDATE … WHERE
id IN (SELECT … LIMIT n) AND <still due> RETURNING`` statement, so two workers cannot both
claim a row either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.storage.models import DeliveryAttempt, OutboxMessage

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)
#: ``last_error`` of a message whose worker vanished during its last allowed attempt
WORKER_LOST = "WorkerLost"
_NO_SYNC = {"synchronize_session": False}


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == SENDING, OutboxMessage.claimed_until < now),
    )


def expire_abandoned(
    session: Session, worker_id: str, now: datetime, max_attempts: int
) -> list[tuple[int, str]]:
    """Lapsed claims that already used their last attempt become dead letters."""
    rows = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_until < now,
            OutboxMessage.attempts >= max_attempts,
        )
        .values(status=DEAD, last_error=WORKER_LOST, claimed_by=None, claimed_until=None)
        .returning(OutboxMessage.id, OutboxMessage.reference),
        execution_options=_NO_SYNC,
    ).all()
    for message_id, _reference in rows:
        session.add(
            DeliveryAttempt(
                message_id=message_id,
                worker=worker_id,
                started_at=now,
                outcome=DEAD,
                error=WORKER_LOST,
            )
        )
    return [(int(i), str(r)) for i, r in rows]


def claim(
    session: Session, worker_id: str, now: datetime, lease_seconds: float, limit: int
) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages for this worker (urgent ones first)."""
    pick = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.urgent.desc(), OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    ids: Any
    if session.get_bind().dialect.name == "postgresql":
        # Lock the picked rows first, in their own statement: inside ``UPDATE … WHERE id IN
        # (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`` PostgreSQL may run the subquery more
        # than once and claim more than ``n`` rows.
        ids = list(session.scalars(pick.with_for_update(skip_locked=True)))
        if not ids:
            return []
    else:
        ids = pick.scalar_subquery()  # one statement: SQLite runs it under its write lock
    claimed = session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _due(now))
        .values(
            status=SENDING,
            claimed_by=worker_id,
            claimed_until=now + timedelta(seconds=lease_seconds),
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(OutboxMessage),
        execution_options=_NO_SYNC,
    ).all()
    return sorted(claimed, key=lambda m: (not m.urgent, m.next_attempt_at, m.id))


def renew(
    session: Session, message_id: int, worker_id: str, now: datetime, lease_seconds: float
) -> bool:
    """Extend this worker's claim; False when the claim is no longer ours (do not send)."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(claimed_until=now + timedelta(seconds=lease_seconds)),
        execution_options=_NO_SYNC,
    )
    return _rowcount(result) == 1


def mark_sent(
    session: Session, message_id: int, worker_id: str, started_at: datetime, now: datetime
) -> bool | None:
    """The relay accepted the message. False if it was already marked sent (a duplicate);
    None if the row is gone (the child deleted their data while it was being sent).

    Not fenced by the claim: the mail went out, whoever holds the row now.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status != SENT)
        .values(status=SENT, sent_at=now, claimed_by=None, claimed_until=None, last_error=None),
        execution_options=_NO_SYNC,
    )
    first = _rowcount(result) == 1
    if not first and session.get(OutboxMessage, message_id) is None:
        return None
    session.add(
        DeliveryAttempt(
            message_id=message_id, worker=worker_id, started_at=started_at, outcome=SENT
        )
    )
    return first


def mark_failed(
    session: Session,
    message: OutboxMessage,
    worker_id: str,
    error: str,
    started_at: datetime,
    now: datetime,
    retry_in: float,
    max_attempts: int,
) -> str | None:
    """Record a failed attempt: back to ``pending`` after ``retry_in`` seconds, or ``dead``.

    Fenced by the claim: if another worker has taken the row meanwhile, its outcome counts
    and this returns None.
    """
    dead = message.attempts >= max_attempts
    values: dict[str, Any] = {
        "status": DEAD if dead else PENDING,
        "last_error": error[:120],
        "claimed_by": None,
        "claimed_until": None,
    }
    if not dead:
        values["next_attempt_at"] = now + timedelta(seconds=retry_in)
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(**values),
        execution_options=_NO_SYNC,
    )
    if _rowcount(result) != 1:
        return None
    outcome = DEAD if dead else "failed"
    session.add(
        DeliveryAttempt(
            message_id=message.id,
            worker=worker_id,
            started_at=started_at,
            outcome=outcome,
            error=error[:120],
        )
    )
    return outcome


@dataclass
class DeadLetter:
    id: int
    reference: str
    attempts: int
    last_error: str | None
    created_at: datetime
    caseworker_id: int | None
    municipality_code: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "caseworker_id": self.caseworker_id,
            "municipality_code": self.municipality_code,
        }


@dataclass
class OutboxStatus:
    counts: dict[str, int]
    #: pending messages that have failed at least once (the relay is refusing or down)
    retrying: int
    oldest_unsent_at: datetime | None
    now: datetime
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def oldest_unsent_age_seconds(self) -> float | None:
        if self.oldest_unsent_at is None:
            return None
        return max(0.0, (self.now - self.oldest_unsent_at).total_seconds())

    def as_json(self) -> dict[str, Any]:
        age = self.oldest_unsent_age_seconds
        return {
            "counts": self.counts,
            "retrying": self.retrying,
            "oldest_unsent_age_seconds": None if age is None else round(age, 1),
            "dead_letters": [d.as_json() for d in self.dead_letters],
            "ok": not self.dead_letters,
        }


def status(session: Session, now: datetime, dead_limit: int = 100) -> OutboxStatus:
    counts = dict.fromkeys(STATUSES, 0)
    for name, count in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[str(name)] = int(count)
    retrying = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.attempts > 0)
    )
    oldest = session.scalar(
        select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.status.in_((PENDING, SENDING))
        )
    )
    dead = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == DEAD)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
        .limit(dead_limit)
    ).all()
    return OutboxStatus(
        counts=counts,
        retrying=int(retrying or 0),
        oldest_unsent_at=oldest,
        now=now,
        dead_letters=[
            DeadLetter(
                id=m.id,
                reference=m.reference,
                attempts=m.attempts,
                last_error=m.last_error,
                created_at=m.created_at,
                caseworker_id=m.caseworker_id,
                municipality_code=m.municipality_code,
            )
            for m in dead
        ],
    )


def requeue(
    session: Session, now: datetime, references: Iterable[str] | None = None
) -> Sequence[str]:
    """Give dead letters a fresh set of attempts (all of them when ``references`` is None)."""
    condition = [OutboxMessage.status == DEAD]
    if references is not None:
        condition.append(OutboxMessage.reference.in_(list(references)))
    rows = session.execute(
        update(OutboxMessage)
        .where(*condition)
        .values(status=PENDING, attempts=0, next_attempt_at=now, last_error=None)
        .returning(OutboxMessage.reference),
        execution_options=_NO_SYNC,
    ).scalars()
    return sorted(str(r) for r in rows)


def release(session: Session, message_ids: Sequence[int], worker_id: str) -> int:
    """Hand back claimed messages this worker did not try (clean shutdown): no attempt used."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(message_ids)),
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_by == worker_id,
        )
        .values(
            status=PENDING,
            attempts=OutboxMessage.attempts - 1,
            claimed_by=None,
            claimed_until=None,
        ),
        execution_options=_NO_SYNC,
    )
    return _rowcount(result)
