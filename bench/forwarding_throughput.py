"""Forwarding: 1,000 queued messages to a local SMTP server (aiosmtpd), twice.

1. clean: one `barnebot forward` worker process; delivery rate (messages/s).
2. faults: the SMTP server goes down for a while at 30 % and the worker is killed with
   SIGKILL at 60 % and started again; counts delivered, lost (must be 0) and duplicates
   (each a resend under the same Message-ID).

Usage: python bench/forwarding_throughput.py [--messages 1000] [--outage 2.0]
       [--postgres postgresql+psycopg://user@host:port/postgres]   (default: SQLite files)
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from bot.storage.db import Database, ensure_schema
from bot.storage.models import OutboxMessage

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.smtp_server import LocalSmtp  # noqa: E402

FORWARD = [sys.executable, "-m", "bot.cli.forwarding", "forward"]
WORKER_SETTINGS = {
    "BARNEBOT_SMTP_SECURITY": "none",
    "BARNEBOT_MAIL_FROM": "barnebot <noreply@barnebot.example>",
    "BARNEBOT_SMTP_TIMEOUT": "2",
    "BARNEBOT_OUTBOX_LEASE_SECONDS": "3",
    "BARNEBOT_OUTBOX_BACKOFF_BASE": "0.5",
    "BARNEBOT_OUTBOX_BACKOFF_MAX": "4",
    "BARNEBOT_OUTBOX_POLL_SECONDS": "0.2",
    "BARNEBOT_OUTBOX_BATCH_SIZE": "20",
}


@contextmanager
def fresh_database(tmp: Path, postgres: str | None, name: str) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{tmp / name}.sqlite3"
        return
    db_name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db_name}"'))
    try:
        yield make_url(postgres).set(database=db_name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
        admin.dispose()


def queue(db: Database, count: int) -> set[str]:
    now = datetime.now(UTC)
    references = [f"B{i:06d}" for i in range(count)]
    with db.unit_of_work() as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "reference": ref,
                    "chat_key": f"bench:{i}",
                    "municipality_code": "751",
                    "recipient": f"caseworker{i % 20}@aarhus.example",
                    "recipient_name": "Mette Hansen",
                    "display_name": f"Barn {i}",
                    "body": f"Hej Mette, det er besked nummer {i}. Kan du ringe til mig i morgen?",
                    "urgent": i % 10 == 0,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "receipt_delivered": False,
                }
                for i, ref in enumerate(references)
            ],
        )
    return {f"<{r}@barnebot.invalid>" for r in references}


def sent_count(db: Database) -> int:
    with db.unit_of_work() as session:
        query = select(func.count()).select_from(OutboxMessage)
        return int(session.scalar(query.where(OutboxMessage.status == "sent")) or 0)


def worker(url: str, server: LocalSmtp, name: str, cache: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
    env.update(WORKER_SETTINGS)
    env.update(
        BARNEBOT_DATABASE_URL=url,
        BARNEBOT_SMTP_HOST=server.host,
        BARNEBOT_SMTP_PORT=str(server.port),
        BARNEBOT_CACHE_DIR=str(cache),
        BARNEBOT_CONTENT_DIR=str(REPO / "content"),
    )
    return subprocess.Popen([*FORWARD, "--worker-id", name], env=env)


def wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(30)


def clean_run(url: str, count: int, tmp: Path) -> dict[str, Any]:
    db = Database(url)
    ensure_schema(db.engine)
    expected = queue(db, count)
    with LocalSmtp() as server:
        started = time.monotonic()
        process = worker(url, server, "clean", tmp / "cache")
        try:
            wait(lambda: len(server.received) >= count and sent_count(db) == count, 300)
        finally:
            code = stop(process)
        received = server.received
    db.dispose()
    first, last = received[0].at, received[-1].at
    ids = [r.message_id for r in received]
    return {
        "delivered": len(set(ids) & expected),
        "lost": len(expected - set(ids)),
        "duplicates": len(ids) - len(set(ids)),
        "seconds_first_to_last": round(last - first, 3),
        "messages_per_s": round((count - 1) / (last - first), 1),
        "seconds_including_process_start": round(last - started, 3),
        "worker_exit_code": code,
    }


def fault_run(url: str, count: int, outage: float, tmp: Path) -> dict[str, Any]:
    db = Database(url)
    ensure_schema(db.engine)
    expected = queue(db, count)
    server = LocalSmtp()
    server.start()
    events: dict[str, Any] = {}
    try:
        started = time.monotonic()
        first = worker(url, server, "first", tmp / "cache")
        second = None
        try:
            wait(lambda: len(server.received) >= count * 0.3, 300)
            server.stop()
            events["outage_at_received"] = len(server.received)
            time.sleep(outage)
            server.start()
            wait(lambda: len(server.received) >= count * 0.6, 300)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            events["sigkill_at_received"] = len(server.received)
            second = worker(url, server, "second", tmp / "cache")
            wait(lambda: sent_count(db) == count, 300)
            wall = time.monotonic() - started
        finally:
            if first.poll() is None:
                first.kill()
            code = stop(second) if second is not None else None
        received = server.received
    finally:
        server.stop()
    with db.unit_of_work() as session:
        statuses = dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )
    db.dispose()
    ids = [r.message_id for r in received]
    unique = set(ids)
    return {
        "delivered": len(unique & expected),
        "lost": len(expected - unique),
        "duplicates": len(ids) - len(unique),
        "duplicates_identical": all(
            len({r.raw for r in received if r.message_id == m}) == 1
            for m in unique
            if ids.count(m) > 1
        ),
        "outbox_statuses": statuses,
        "outage_seconds": outage,
        **events,
        "wall_seconds": round(wall, 2),
        "messages_per_s_overall": round(count / wall, 1),
        "restarted_worker_exit_code": code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=2.0, help="seconds the SMTP server is down")
    parser.add_argument("--postgres", help="PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with fresh_database(tmp, args.postgres, "clean") as url:
            clean = clean_run(url, args.messages, tmp)
        with fresh_database(tmp, args.postgres, "faults") as url:
            faults = fault_run(url, args.messages, args.outage, tmp)
    report = {
        "database": "postgresql" if args.postgres else "sqlite",
        "messages": args.messages,
        "clean": clean,
        "faults": faults,
        "worker_settings": WORKER_SETTINGS,
    }
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    if faults["lost"] or clean["lost"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
