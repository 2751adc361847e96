"""Forwarding: outbox rows → e-mails that a real SMTP server on loopback (aiosmtpd) receives.

Outbox rows are inserted through the ORM, as the dialogue writes them. Worker processes are
started as the operator would (`barnebot forward`, here through ``python -m
bot.cli.forwarding`` which registers the same commands) and killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.forwarding import outbox
from bot.forwarding.backoff import retry_delay
from bot.forwarding.mail import MailTemplates, build_email
from bot.forwarding.worker import OutboxWorker, Summary, run_worker
from bot.storage.conversations import delete_chat
from bot.storage.db import Database, ensure_schema
from bot.storage.models import Caseworker, DeliveryAttempt, OutboxMessage

from .conftest import BARNEBOT, PG_URL, REPO
from .smtp_server import LocalSmtp, make_tls

FORWARD = [sys.executable, "-m", "bot.cli.forwarding"]
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    ensure_schema(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def smtp_settings(settings: Settings, server: LocalSmtp, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        "mail_from": "barnebot <noreply@barnebot.example>",
        "outbox_backoff_base_seconds": 2.0,
        "outbox_backoff_max_seconds": 30.0,
        "outbox_max_attempts": 5,
        "outbox_lease_seconds": 60.0,
    }
    values.update(extra)
    return settings.model_copy(update=values)


def queue(
    db: Database,
    count: int,
    *,
    prefix: str = "R",
    urgent: bool = False,
    created_at: datetime = T0,
    caseworker: bool = False,
) -> list[str]:
    """``count`` messages from ``count`` different children; returns their references."""
    references = []
    with db.unit_of_work() as session:
        caseworker_id = None
        if caseworker:
            worker = Caseworker(
                name="Mette Hansen",
                email=f"mette.{prefix.lower()}@aarhus.example",
                municipality_code="751",
            )
            session.add(worker)
            session.flush()
            caseworker_id = worker.id
        for i in range(count):
            reference = f"{prefix}{i:05d}"
            references.append(reference)
            session.add(
                OutboxMessage(
                    reference=reference,
                    chat_key=f"telegram:{prefix}{i}",
                    caseworker_id=caseworker_id,
                    municipality_code="751",
                    recipient=f"mette.{prefix.lower()}{i % 3}@aarhus.example",
                    recipient_name="Mette Hansen",
                    display_name=f"Barn {prefix}{i}",
                    body=f"Hej Mette. Det er besked {prefix}{i}. <b>Ring</b> & skriv til mig.",
                    urgent=urgent,
                    created_at=created_at,
                    next_attempt_at=created_at,
                )
            )
    return references


def rows(db: Database) -> dict[str, OutboxMessage]:
    with db.unit_of_work() as session:
        return {m.reference: m for m in session.scalars(select(OutboxMessage))}


def counts(db: Database) -> dict[str, int]:
    with db.unit_of_work() as session:
        return dict(
            session.execute(  # type: ignore[arg-type]
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def run_once(worker: OutboxWorker) -> Summary:
    return asyncio.run(worker.run_once())


def forward_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli.forwarding ARGS`` as an operator runs it."""
    return subprocess.run(
        [*FORWARD, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def forward_env(cli_env: dict[str, str], settings: Settings) -> dict[str, str]:
    env = dict(cli_env)
    env.update(
        BARNEBOT_SMTP_HOST=str(settings.smtp_host),
        BARNEBOT_SMTP_PORT=str(settings.smtp_port),
        BARNEBOT_SMTP_SECURITY=settings.smtp_security,
        BARNEBOT_SMTP_TIMEOUT=str(settings.smtp_timeout),
        BARNEBOT_MAIL_FROM=str(settings.mail_from),
        BARNEBOT_OUTBOX_MAX_ATTEMPTS=str(settings.outbox_max_attempts),
        BARNEBOT_OUTBOX_LEASE_SECONDS=str(settings.outbox_lease_seconds),
        BARNEBOT_OUTBOX_BACKOFF_BASE=str(settings.outbox_backoff_base_seconds),
        BARNEBOT_OUTBOX_BACKOFF_MAX=str(settings.outbox_backoff_max_seconds),
        BARNEBOT_OUTBOX_POLL_SECONDS=str(settings.outbox_poll_seconds),
        BARNEBOT_OUTBOX_BATCH_SIZE=str(settings.outbox_batch_size),
    )
    return env


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- the e-mail -------------------------------------------------------------------------------


def test_a_message_arrives_with_recipient_subject_message_id_and_text(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp)
    calm = queue(db, 2, prefix="A", caseworker=True)
    urgent = queue(db, 1, prefix="U", urgent=True, caseworker=True)
    summary = run_once(OutboxWorker(db, config, "w1"))
    assert (summary.sent, summary.failed, summary.dead) == (3, 0, 0)

    received = {r.message_id: r for r in smtp.received}
    state = rows(db)
    assert len(received) == 3
    for reference in calm + urgent:
        row = state[reference]
        mail = received[row.message_id]
        assert mail.message_id == f"<{reference}@barnebot.invalid>"
        assert mail.rcpt_tos == (row.recipient,)
        assert mail.mail_from == "noreply@barnebot.example"
        assert mail.message["To"].addresses[0].addr_spec == row.recipient
        assert mail.message["From"] == "barnebot <noreply@barnebot.example>"
        assert reference in mail.subject and row.display_name in mail.subject
        assert ("HASTER" in mail.subject) is (reference in urgent)
        plain, html = mail.part("plain"), mail.part("html")
        assert row.body in plain
        assert "Barn " + reference[0] + str(int(reference[1:])) in plain
        assert "mandag den 23. november 2026 kl. 10.30" in plain  # 09:30 UTC, Copenhagen
        assert "svar" in plain.lower() and "barnebot" in plain
        assert "&lt;b&gt;Ring&lt;/b&gt; &amp; skriv" in html
        assert "<b>Ring</b>" not in html
        assert mail.message["Auto-Submitted"] == "auto-generated"
        # Nothing of any other child: their names, texts and references are absent.
        for other in calm + urgent:
            if other != reference:
                number = str(int(other[1:]))
                assert f"besked {other[0]}{number}." not in mail.raw.decode("ascii", "replace")
                assert other not in plain and other not in html and other not in mail.subject
        assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    with db.unit_of_work() as session:
        attempts = session.scalars(select(DeliveryAttempt)).all()
        assert sorted(a.outcome for a in attempts) == ["sent"] * 3
        assert {a.worker for a in attempts} == {"w1"}


def test_unlinked_child_without_name_gets_a_plain_description(
    settings: Settings, tmp_path: Path
) -> None:
    message = OutboxMessage(
        reference="X1",
        recipient="familie@kommune.example",
        body="hjælp",
        urgent=False,
        created_at=T0,
        municipality_code="101",
    )
    mail = build_email(message, "noreply@x.example", MailTemplates.load(REPO / "content"))
    plain = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Et barn" in plain and "None" not in plain and "hjælp" in plain
    assert "HASTER" not in str(mail["Subject"])
    assert mail["Message-ID"] == "<X1@barnebot.invalid>"
    # the same row builds the same bytes: a resend is the same message
    again = build_email(message, "noreply@x.example", MailTemplates.load(REPO / "content"))
    assert bytes(mail) == bytes(again)


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    rng = random.Random(4)
    for attempt in range(1, 15):
        nominal = min(300.0, 5.0 * 2 ** (attempt - 1))
        delays = {retry_delay(attempt, 5.0, 300.0, rng) for _ in range(50)}
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(delays) > 1  # jitter
    assert retry_delay(1000, 5.0, 300.0) <= 300.0


# -- failures: an outage, refusals, dead letters -----------------------------------------------


def test_smtp_down_for_a_while_then_up_delivers_every_message_once(
    db: Database, settings: Settings
) -> None:
    server = LocalSmtp()
    config = smtp_settings(settings, server, outbox_max_attempts=12)
    references = queue(db, 10)
    clock = Clock()
    worker = OutboxWorker(db, config, "w1", clock=clock)

    for outage_round in range(3):  # the server is down: every message fails, none is lost
        summary = run_once(worker)
        assert (summary.claimed, summary.failed, summary.sent) == (10, 10, 0), outage_round
        assert summary.down == "SMTPConnectError"
        assert not run_once(worker).claimed  # nothing is due before its backoff has passed
        clock.advance(config.outbox_backoff_max_seconds)
    state = rows(db)
    assert {(m.status, m.attempts) for m in state.values()} == {("pending", 3)}
    assert {m.last_error for m in state.values()} == {"SMTPConnectError"}  # a class name only

    server.start()
    try:
        clock.advance(config.outbox_backoff_max_seconds)
        while run_once(worker).claimed:
            clock.advance(config.outbox_backoff_max_seconds)
        assert sorted(server.message_ids().values()) == [1] * 10
        assert set(server.message_ids()) == {f"<{r}@barnebot.invalid>" for r in references}
        assert counts(db) == {"sent": 10}
    finally:
        server.stop()


@pytest.mark.parametrize("refuse", ["rcpt", "data"])
def test_refusing_server_means_retries_then_a_dead_letter_that_status_shows(
    db: Database,
    smtp: LocalSmtp,
    settings: Settings,
    cli_env: dict[str, str],
    refuse: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.forwarding")
    config = smtp_settings(settings, smtp, outbox_max_attempts=3)
    (reference,) = queue(db, 1, prefix="D")
    smtp.handler.refuse = refuse
    clock = Clock()
    worker = OutboxWorker(db, config, "w1", clock=clock)
    for attempt in range(1, 4):
        summary = run_once(worker)
        assert summary.claimed == 1, attempt
        row = rows(db)[reference]
        assert row.attempts == attempt
        assert row.status == ("dead" if attempt == 3 else "pending")
        assert row.last_error == ("SMTPRecipientsRefused" if refuse == "rcpt" else "SMTPDataError")
        if attempt < 3:  # the next try waits: half to all of base·2^(n-1)
            wait = (row.next_attempt_at - clock.now).total_seconds()
            nominal = config.outbox_backoff_base_seconds * 2 ** (attempt - 1)
            assert nominal / 2 <= wait <= nominal
        clock.advance(config.outbox_backoff_max_seconds)
    assert not run_once(worker).claimed  # dead letters are not retried on their own
    with db.unit_of_work() as session:
        outcomes = [a.outcome for a in session.scalars(select(DeliveryAttempt))]
    assert outcomes == ["failed", "failed", "dead"]
    assert smtp.received == []

    # The operator sees it: exit code 2, the reference and the error class.
    env = forward_env(cli_env, config)
    result = forward_cli(env, "outbox", "status", "--json")
    assert result.returncode == 2, result.stderr
    report = json.loads(result.stdout)
    assert report["counts"]["dead"] == 1 and not report["ok"]
    (dead,) = report["dead_letters"]
    assert dead["reference"] == reference and dead["last_error"] == row.last_error
    human = forward_cli(env, "outbox", "status")
    assert human.returncode == 2 and "DEAD LETTERS" in human.stdout and reference in human.stdout
    assert "@" not in human.stdout + result.stdout  # no addresses on the operator's screen

    # Logs: references and error classes, never addresses, names or the child's words.
    dead_lines = [r for r in caplog.records if "dead letter" in r.getMessage()]
    assert dead_lines and dead_lines[0].levelno == logging.ERROR
    assert getattr(dead_lines[0], "reference", None) == reference
    row = rows(db)[reference]
    for record in caplog.records:
        blob = json.dumps({k: str(v) for k, v in vars(record).items()}, ensure_ascii=False)
        for secret in (row.recipient, row.display_name or "", "Hej Mette", "Mette Hansen"):
            assert secret not in blob, (secret, record.getMessage())

    # Fixed: requeue, and it goes out.
    smtp.handler.refuse = None
    requeued = forward_cli(env, "outbox", "requeue", reference)
    assert requeued.returncode == 0, requeued.stderr
    assert run_once(OutboxWorker(db, config, "w1")).sent == 1
    assert len(smtp.received) == 1
    ok = forward_cli(env, "outbox", "status", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["counts"]["sent"] == 1


# -- leases: a crashed worker's claim lapses; clean shutdown hands claims back ------------------


def test_a_crashed_workers_claim_lapses_and_the_message_is_sent(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp, outbox_lease_seconds=60.0, outbox_max_attempts=2)
    (reference, last) = queue(db, 2, prefix="L")
    with db.unit_of_work() as session:  # a worker claims both, then dies before sending
        claimed = outbox.claim(session, "ghost", T0, 60.0, 10)
        assert [m.reference for m in claimed] == [reference, last]
    with db.unit_of_work() as session:  # a second claim sees nothing: the lease holds
        assert outbox.claim(session, "other", T0 + timedelta(seconds=59), 60.0, 10) == []
    with db.unit_of_work() as session:  # `last` already used its final allowed attempt
        session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.reference == last)
            .values(attempts=2)
        )
    clock = Clock(T0 + timedelta(seconds=61))
    summary = run_once(OutboxWorker(db, config, "w2", clock=clock))
    assert (summary.sent, summary.dead) == (1, 1)
    state = rows(db)
    assert state[reference].status == "sent" and state[reference].attempts == 2
    assert state[last].status == "dead" and state[last].last_error == outbox.WORKER_LOST
    assert list(smtp.message_ids()) == [f"<{reference}@barnebot.invalid>"]


def test_a_message_deleted_by_the_child_after_a_worker_died_mid_send_is_never_sent(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp, outbox_lease_seconds=60.0)
    (reference,) = queue(db, 1, prefix="D")
    with db.unit_of_work() as session:  # a worker claims it, then dies before sending
        assert [m.reference for m in outbox.claim(session, "ghost", T0, 60.0, 10)] == [reference]
    with db.unit_of_work() as session:  # the child says /slet meanwhile
        delete_chat(session, "telegram:D0")
    summary = run_once(OutboxWorker(db, config, "w2", clock=Clock(T0 + timedelta(seconds=61))))
    assert (summary.sent, summary.failed, summary.dead) == (0, 0, 0)
    assert smtp.received == [] and rows(db) == {}


def test_a_message_deleted_while_the_mail_server_takes_it_is_recorded_cleanly(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp)
    (reference,) = queue(db, 1, prefix="E")
    smtp.handler.delay = 1.0
    smtp.handler.in_data.clear()
    result: list[Summary] = []
    worker = threading.Thread(
        target=lambda: result.append(run_once(OutboxWorker(db, config, "w1")))
    )
    worker.start()
    assert smtp.handler.in_data.wait(30)  # the mail server has the message, not yet "250"
    with db.unit_of_work() as session:
        delete_chat(session, "telegram:E0")
    worker.join(30)
    assert result and (result[0].sent, result[0].failed) == (1, 0)  # no crash on the gone row
    assert list(smtp.message_ids()) == [f"<{reference}@barnebot.invalid>"]
    assert rows(db) == {}
    with db.unit_of_work() as session:
        assert session.scalars(select(DeliveryAttempt)).all() == []


def test_stopping_hands_unsent_claims_back(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp)
    queue(db, 3, prefix="S")
    stop = asyncio.Event()
    stop.set()
    summary = asyncio.run(OutboxWorker(db, config, "w1").process_batch(stop))
    assert (summary.claimed, summary.skipped, summary.sent) == (3, 3, 0)
    state = rows(db)
    assert {(m.status, m.attempts, m.claimed_by) for m in state.values()} == {("pending", 0, None)}


def test_a_claim_takes_at_most_one_batch_and_never_a_claimed_row(db: Database) -> None:
    queue(db, 10, prefix="B")
    with db.unit_of_work() as session:
        first = outbox.claim(session, "left", T0, 60.0, 3)
    with db.unit_of_work() as session:
        second = outbox.claim(session, "right", T0, 60.0, 3)
    assert [m.reference for m in first] == ["B00000", "B00001", "B00002"]
    assert [m.reference for m in second] == ["B00003", "B00004", "B00005"]
    assert {m.claimed_by for m in second} == {"right"} and {m.attempts for m in second} == {1}
    assert counts(db) == {"sending": 6, "pending": 4}


def test_urgent_messages_go_first(db: Database) -> None:
    queue(db, 3, prefix="N")
    queue(db, 2, prefix="U", urgent=True, created_at=T0 + timedelta(minutes=5))
    with db.unit_of_work() as session:
        first = outbox.claim(session, "w1", T0 + timedelta(minutes=10), 60.0, 2)
    assert [m.reference for m in first] == ["U00000", "U00001"]


# -- inside an asyncio program (`barnebot run`) -----------------------------------------------


def test_run_worker_delivers_in_a_running_loop_and_stops_on_the_event(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    config = smtp_settings(settings, smtp, outbox_poll_seconds=0.05)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(config, stop, "in-process", db=db))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(queue, db, 3, prefix="I", created_at=datetime.now(UTC))
        deadline = time.monotonic() + 20
        while len(smtp.received) < 3:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert sorted(smtp.message_ids().values()) == [1, 1, 1]
    assert counts(db) == {"sent": 3}


def test_the_running_worker_rides_out_an_outage_in_real_time(
    db: Database, settings: Settings
) -> None:
    server = LocalSmtp()
    config = smtp_settings(
        settings,
        server,
        outbox_poll_seconds=0.05,
        outbox_backoff_base_seconds=0.2,
        outbox_backoff_max_seconds=1.0,
        outbox_max_attempts=50,
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(config, stop, "live", db=db))
        await asyncio.to_thread(queue, db, 5, prefix="V", created_at=datetime.now(UTC))
        await asyncio.sleep(1.5)  # the relay is down: attempts fail and back off
        assert server.received == []
        assert all(m.attempts >= 1 for m in rows(db).values())
        await asyncio.to_thread(server.start)
        deadline = time.monotonic() + 20
        while counts(db) != {"sent": 5}:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
    assert sorted(server.message_ids().values()) == [1] * 5


def test_run_worker_without_smtp_settings_waits_quietly(settings: Settings) -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_worker(settings, stop, "off"))
        await asyncio.sleep(0.1)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


# -- TLS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_to_a_relay_with_a_private_ca(
    db: Database, settings: Settings, tmp_path: Path, security: str
) -> None:
    tls = make_tls(tmp_path / "tls")
    if security == "starttls":
        server = LocalSmtp(starttls=tls.server_context)
    else:
        server = LocalSmtp(implicit_tls=tls.server_context)
    with server:
        queue(db, 1, prefix="T")
        untrusted = smtp_settings(settings, server, smtp_security=security)
        summary = run_once(OutboxWorker(db, untrusted, "w1"))  # no CA: refused, not sent
        assert summary.sent == 0 and summary.failed == 1
        assert server.received == []
        (row,) = rows(db).values()
        assert row.last_error and "@" not in row.last_error

        trusted = smtp_settings(settings, server, smtp_security=security, smtp_ca_file=tls.ca_file)
        clock = Clock(datetime.now(UTC) + timedelta(hours=1))
        summary = run_once(OutboxWorker(db, trusted, "w1", clock=clock))
        assert summary.sent == 1
        (mail,) = server.received
        assert mail.tls


def test_starttls_is_required_not_opportunistic(
    db: Database, smtp: LocalSmtp, settings: Settings
) -> None:
    queue(db, 1, prefix="P")
    config = smtp_settings(settings, smtp, smtp_security="starttls")
    summary = run_once(OutboxWorker(db, config, "w1"))  # the server offers no STARTTLS
    assert summary.sent == 0
    assert smtp.received == []
    (row,) = rows(db).values()
    assert row.status == "pending" and row.last_error


# -- processes: `barnebot forward`, SIGKILL, two workers ----------------------------------------


def test_forward_command_help_and_missing_smtp_settings(cli_env: dict[str, str]) -> None:
    for args in (["forward"], ["outbox"], ["outbox", "status"], ["outbox", "requeue"]):
        result = forward_cli(cli_env, *args, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, (args, result.stderr)
    result = forward_cli(cli_env, "forward", "--once")
    assert result.returncode == 2 and "BARNEBOT_SMTP_HOST" in result.stderr


def test_barnebot_command_has_forward_and_outbox(cli_env: dict[str, str]) -> None:
    from bot.cli.main import app

    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert {"forward", "outbox"} <= names
    for args in (["forward", "--help"], ["outbox", "status", "--help"]):
        result = subprocess.run(
            [BARNEBOT, *args], env=cli_env, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr


def test_worker_killed_mid_send_and_restarted_loses_nothing(
    db: Database, smtp: LocalSmtp, settings: Settings, cli_env: dict[str, str]
) -> None:
    config = smtp_settings(
        settings,
        smtp,
        smtp_timeout=1.0,
        outbox_lease_seconds=2.0,
        outbox_poll_seconds=0.1,
        outbox_batch_size=5,
    )
    references = queue(db, 20, prefix="K", created_at=datetime.now(UTC))
    env = forward_env(cli_env, config)
    smtp.handler.delay = 0.3  # recorded, then 0.3 s before the 250: kill in that window

    first = subprocess.Popen([*FORWARD, "forward", "--worker-id", "first"], env=env)
    try:
        smtp.wait_for(5, timeout=60)
        smtp.handler.in_data.clear()
        assert smtp.handler.in_data.wait(30)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    in_flight = smtp.received[-1].message_id
    state = rows(db)
    assert state[in_flight[1:].split("@")[0]].status == "sending"  # accepted, not recorded

    smtp.handler.delay = 0.0
    second = subprocess.Popen([*FORWARD, "forward", "--worker-id", "second"], env=env)
    try:
        wait_until(lambda: counts(db) == {"sent": 20}, 60, "every message sent")
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0  # a clean exit
    finally:
        if second.poll() is None:
            second.kill()

    ids = smtp.message_ids()
    assert set(ids) == {f"<{r}@barnebot.invalid>" for r in references}  # nothing lost
    duplicates = {m: n for m, n in ids.items() if n > 1}
    assert duplicates == {in_flight: 2}  # at most one: the message in flight at the kill
    copies = [r.raw for r in smtp.received if r.message_id == in_flight]
    assert copies[0] == copies[1]  # the same message, byte for byte


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("two workers on PostgreSQL need BARNEBOT_TEST_POSTGRES_URL (CI sets it)")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_two_workers_at_once_never_send_the_same_message(
    shared_database_url: str, smtp: LocalSmtp, cache_dir: Path, tmp_path: Path
) -> None:
    base = Settings(
        BARNEBOT_DATABASE_URL=shared_database_url,
        BARNEBOT_CACHE_DIR=cache_dir,
        BARNEBOT_CONTENT_DIR=REPO / "content",
        BARNEBOT_NLU_DIR=REPO / "nlu",
    )
    config = smtp_settings(base, smtp, outbox_batch_size=3, outbox_poll_seconds=0.05)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
    env.update(
        BARNEBOT_DATABASE_URL=shared_database_url,
        BARNEBOT_CACHE_DIR=str(cache_dir),
        BARNEBOT_CONTENT_DIR=str(REPO / "content"),
    )
    env = forward_env(env, config)
    database = Database(shared_database_url)
    ensure_schema(database.engine)
    logs = {name: tmp_path / f"{name}.log" for name in ("left", "right")}
    workers = []
    try:
        for name, log_file in logs.items():
            with log_file.open("w") as stderr:
                workers.append(
                    subprocess.Popen(
                        [*FORWARD, "-v", "forward", "--worker-id", name], env=env, stderr=stderr
                    )
                )
        wait_until(  # both are polling before the first message is queued
            lambda: all("outbox worker started" in f.read_text() for f in logs.values()),
            60,
            "both workers to start",
        )
        smtp.handler.delay = 0.01
        references = queue(database, 150, prefix="W", created_at=datetime.now(UTC))
        wait_until(lambda: counts(database) == {"sent": 150}, 120, "every message sent")
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(20) == 0
        ids = smtp.message_ids()
        assert set(ids) == {f"<{r}@barnebot.invalid>" for r in references}
        assert max(ids.values()) == 1, {m: n for m, n in ids.items() if n > 1}
        with database.unit_of_work() as session:
            by_worker = dict(
                session.execute(  # type: ignore[arg-type]
                    select(DeliveryAttempt.worker, func.count()).group_by(DeliveryAttempt.worker)
                ).all()
            )
        assert set(by_worker) == {"left", "right"}, by_worker  # both really worked
        assert sum(by_worker.values()) == 150
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        database.dispose()


def test_forward_once_sends_and_exits(
    db: Database, smtp: LocalSmtp, settings: Settings, cli_env: dict[str, str]
) -> None:
    config = smtp_settings(settings, smtp)
    queue(db, 4, prefix="O", created_at=datetime.now(UTC))
    result = forward_cli(forward_env(cli_env, config), "forward", "--once", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sent"] == 4
    assert len(smtp.received) == 4
