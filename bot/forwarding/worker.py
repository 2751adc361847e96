"""The outbox worker: claim due messages, send them by SMTP, record the outcome.

Database work runs in short transactions on a thread (``asyncio.to_thread``), so the worker
can share an event loop with the Telegram bot (``barnebot run``) without blocking it; sending
happens outside any transaction. Messages are sent one after another on one SMTP session, and
each is marked sent right after the relay accepts it, so a worker killed at any moment leaves
at most one message whose fate it did not record; that one is sent again, with the same
Message-ID, when its lease lapses.

Logs carry references, ids and exception class names, never text, names or addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.forwarding import outbox
from bot.forwarding.backoff import retry_delay
from bot.forwarding.mail import MailTemplates, build_email, municipality_names
from bot.forwarding.smtp import SmtpConfig, SmtpNotConfigured, SmtpSender
from bot.storage.db import Database
from bot.storage.models import OutboxMessage, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")
#: SMTP steps one send may take (connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA)
_STEPS_PER_SEND = 8
#: longest pause between tries to reach a relay that is down (new messages wait this long)
_MAX_DOWN_PAUSE = 60.0
#: pauses before trying again to record that the relay accepted a message
_RECORD_RETRIES = (0.25, 0.5, 1.0, 2.0)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


@dataclass
class Summary:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    #: sent although already marked sent by another worker (same Message-ID)
    duplicates: int = 0
    #: claimed but not tried: the claim lapsed, or the worker was stopping
    skipped: int = 0
    #: the relay could not be reached (class name of the error)
    down: str | None = None

    def add(self, other: Summary) -> None:
        for name in ("claimed", "sent", "failed", "dead", "duplicates", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.down = other.down or self.down


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        worker_id: str | None = None,
        *,
        sender: SmtpSender | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.worker_id = (worker_id or default_worker_id())[:64]
        self.smtp = SmtpConfig.from_settings(settings)
        self.sender = sender or SmtpSender(self.smtp)
        self.templates = MailTemplates.load(settings.content_dir)
        self.municipalities = municipality_names(settings.content_dir)
        self.clock = clock
        self.rng = rng or random.Random()
        #: the longest one send may take
        self.send_budget = self.smtp.timeout * _STEPS_PER_SEND + 5.0
        #: renew a claim before sending when less than this is left of it
        self.renew_below = min(self.send_budget, settings.outbox_lease_seconds / 2)
        self._down_streak = 0
        if self.smtp.username and self.smtp.security == "none" and not self.smtp.loopback:
            log.warning(
                "SMTP login without TLS: the password crosses the network in clear text; "
                "set BARNEBOT_SMTP_SECURITY to starttls or tls"
            )
        if settings.outbox_lease_seconds < self.send_budget:
            log.warning(
                "outbox lease is shorter than one send may take: a slow send can be "
                "repeated by another worker (same Message-ID)",
                extra={
                    "lease_seconds": settings.outbox_lease_seconds,
                    "send_budget_seconds": self.send_budget,
                },
            )

    # -- database, one short transaction per call, off the event loop ---------------------

    def _in_transaction(self, work: Callable[[Session], T]) -> T:
        with self.db.unit_of_work() as session:
            return work(session)

    async def _tx(self, work: Callable[[Session], T]) -> T:
        return await asyncio.to_thread(self._in_transaction, work)

    # -- one batch ---------------------------------------------------------------------------

    async def process_batch(self, stop: asyncio.Event | None = None) -> Summary:
        """Claim up to a batch of due messages and try each once."""
        settings = self.settings
        now = self.clock()

        def claim(session: Session) -> tuple[list[tuple[int, str]], list[OutboxMessage]]:
            expired = outbox.expire_abandoned(
                session, self.worker_id, now, settings.outbox_max_attempts
            )
            batch = outbox.claim(
                session,
                self.worker_id,
                now,
                settings.outbox_lease_seconds,
                settings.outbox_batch_size,
            )
            return expired, batch

        expired, batch = await self._tx(claim)
        summary = Summary(claimed=len(batch), dead=len(expired))
        for message_id, reference in expired:
            log.error(
                "outbox dead letter: its worker vanished during the last allowed attempt; "
                "see `barnebot outbox status`",
                extra={"reference": reference, "outbox_id": message_id, "worker": self.worker_id},
            )
        # Each e-mail is built on a thread while the one before it is being sent.
        upcoming = self._build(batch[0]) if batch else None
        for index, message in enumerate(batch):
            if stop is not None and stop.is_set():
                await self._release(batch[index:], summary)
                break
            assert upcoming is not None
            built = upcoming
            upcoming = self._build(batch[index + 1]) if index + 1 < len(batch) else None
            await self._deliver(message, built, summary)
        return summary

    def _build(self, message: OutboxMessage) -> asyncio.Future[EmailMessage]:
        future = asyncio.ensure_future(
            asyncio.to_thread(
                build_email, message, self.smtp.mail_from, self.templates, self.municipalities
            )
        )
        # a skipped message's e-mail is never awaited: retrieve its outcome anyway
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        return future

    async def _release(self, rest: list[OutboxMessage], summary: Summary) -> None:
        ids = [m.id for m in rest]
        released = await self._tx(lambda s: outbox.release(s, ids, self.worker_id))
        summary.skipped += len(ids)
        log.info("outbox worker stopping", extra={"released": released})

    async def _deliver(
        self, message: OutboxMessage, built: asyncio.Future[EmailMessage], summary: Summary
    ) -> None:
        settings = self.settings
        now = self.clock()
        assert message.claimed_until is not None
        if (message.claimed_until - now).total_seconds() < self.renew_below:
            lease = settings.outbox_lease_seconds
            ok = await self._tx(lambda s: outbox.renew(s, message.id, self.worker_id, now, lease))
            if not ok:
                summary.skipped += 1
                log.warning(
                    "outbox claim lapsed before sending; another worker has it",
                    extra={"reference": message.reference, "outbox_id": message.id},
                )
                return
        started = self.clock()
        error: str | None = summary.down
        if error is None:
            try:
                await self.sender.connect()
            except Exception as exc:
                error = summary.down = type(exc).__name__
        if error is None:
            try:
                await self.sender.send(await built, message.recipient)
            except Exception as exc:
                error = type(exc).__name__
        if error is None:
            self._down_streak = 0
            first = await self._record_sent(message, started)
            summary.sent += 1
            if first is None:
                log.info(
                    "outbox message sent; the child deleted their data meanwhile",
                    extra={"reference": message.reference, "outbox_id": message.id},
                )
            elif first:
                log.info(
                    "outbox message sent",
                    extra={
                        "reference": message.reference,
                        "outbox_id": message.id,
                        "attempt": message.attempts,
                        "worker": self.worker_id,
                    },
                )
            else:
                summary.duplicates += 1
                log.warning(
                    "outbox message sent again (same Message-ID): it was already marked sent",
                    extra={"reference": message.reference, "outbox_id": message.id},
                )
            return
        await self._record_failure(message, error, started, summary)

    async def _record_sent(self, message: OutboxMessage, started: datetime) -> bool | None:
        """Mark sent, retrying a short database hiccup: if this is never recorded, the
        message goes out a second time when its claim lapses."""
        for pause in (*_RECORD_RETRIES, None):
            try:
                return await self._tx(
                    lambda s: outbox.mark_sent(s, message.id, self.worker_id, started, self.clock())
                )
            except SQLAlchemyError as exc:
                if pause is None:
                    raise
                log.warning(
                    "outbox: could not record a sent message yet; retrying",
                    extra={"reference": message.reference, "error": type(exc).__name__},
                )
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _record_failure(
        self, message: OutboxMessage, error: str, started: datetime, summary: Summary
    ) -> None:
        settings = self.settings
        delay = retry_delay(
            message.attempts,
            settings.outbox_backoff_base_seconds,
            settings.outbox_backoff_max_seconds,
            self.rng,
        )
        outcome = await self._tx(
            lambda s: outbox.mark_failed(
                s,
                message,
                self.worker_id,
                error,
                started,
                self.clock(),
                delay,
                settings.outbox_max_attempts,
            )
        )
        details = {
            "reference": message.reference,
            "outbox_id": message.id,
            "attempt": message.attempts,
            "error": error,
            "worker": self.worker_id,
        }
        if outcome == outbox.DEAD:
            summary.dead += 1
            log.error(
                "outbox dead letter: not delivered after the last allowed attempt; "
                "see `barnebot outbox status`",
                extra={**details, "max_attempts": settings.outbox_max_attempts},
            )
        elif outcome is None:
            summary.skipped += 1
            log.warning("outbox failure not recorded: claim lapsed", extra=details)
        else:
            summary.failed += 1
            log.warning("outbox attempt failed", extra={**details, "retry_in": round(delay, 1)})

    # -- loops -------------------------------------------------------------------------------

    async def run_once(self, stop: asyncio.Event | None = None) -> Summary:
        """Send what is due now, batch after batch, until nothing is due or the relay is down."""
        total = Summary()
        try:
            while True:
                summary = await self.process_batch(stop)
                total.add(summary)
                if summary.claimed == 0 or summary.down or (stop is not None and stop.is_set()):
                    break
        finally:
            await self.sender.close()
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: send due messages, poll when idle, back off when down."""
        settings = self.settings
        log.info("outbox worker started", extra={"worker": self.worker_id})
        db_streak = 0
        try:
            while not stop.is_set():
                pause = settings.outbox_poll_seconds
                try:
                    summary = await self.process_batch(stop)
                    db_streak = 0
                except Exception as exc:  # the database is down, or a bug: keep the worker alive
                    db_streak += 1
                    log.error(
                        "outbox worker: batch failed; retrying",
                        extra={"error": type(exc).__name__, "worker": self.worker_id},
                    )
                    await self._wait(stop, retry_delay(db_streak, 1.0, _MAX_DOWN_PAUSE))
                    continue
                if summary.down:
                    self._down_streak += 1
                    pause = retry_delay(
                        self._down_streak,
                        min(settings.outbox_poll_seconds, settings.outbox_backoff_base_seconds),
                        min(_MAX_DOWN_PAUSE, settings.outbox_backoff_max_seconds),
                        self.rng,
                    )
                elif summary.claimed >= settings.outbox_batch_size:
                    continue  # more may be due right now
                if summary.claimed == 0 or summary.down:
                    await self.sender.close()
                await self._wait(stop, pause)
        finally:
            await self.sender.close()
            log.info("outbox worker stopped", extra={"worker": self.worker_id})

    @staticmethod
    async def _wait(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_worker(
    settings: Settings,
    stop: asyncio.Event,
    worker_id: str | None = None,
    *,
    db: Database | None = None,
) -> None:
    """The forwarding worker inside another asyncio program (``barnebot run``).

    Returns when ``stop`` is set. Without SMTP settings it logs once and waits: messages stay
    queued (``barnebot outbox status`` shows their age) and nothing else is disturbed.
    Pass the running program's ``db`` to share its engine.
    """
    own = db is None
    database = db or Database(settings.database_url)
    try:
        try:
            worker = OutboxWorker(database, settings, worker_id)
        except SmtpNotConfigured:
            log.warning(
                "forwarding is off: BARNEBOT_SMTP_HOST / BARNEBOT_MAIL_FROM not set; "
                "children's messages stay in the outbox"
            )
            await stop.wait()
            return
        await worker.run(stop)
    finally:
        if own:
            database.dispose()


async def run_once(
    settings: Settings, worker_id: str | None = None, *, db: Database | None = None
) -> Summary:
    """Send everything due now and return (tests, ``barnebot forward --once``)."""
    own = db is None
    database = db or Database(settings.database_url)
    try:
        return await OutboxWorker(database, settings, worker_id).run_once()
    finally:
        if own:
            database.dispose()
