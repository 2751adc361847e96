"""``barnebot forward`` and ``barnebot outbox …``: the forwarding worker and the operator's view.

``register(app)`` adds the commands to the main ``barnebot`` app; ``python -m
bot.cli.forwarding`` runs them on their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
#: exit code of `outbox status` when there are dead letters (and of `forward` misconfigured)
EXIT_ATTENTION = 2


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def forward(
    once: Annotated[
        bool, typer.Option("--once", help="Send what is due now, then exit (for cron).")
    ] = False,
    worker_id: Annotated[
        str | None,
        typer.Option("--worker-id", help="Name in the outbox's claims (default host:pid)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Forward children's messages to caseworkers by SMTP (the outbox worker, standalone).

    Runs until SIGTERM or Ctrl-C: the message being sent is finished, the rest are handed
    back, and the process exits 0. Several workers may run at once. `barnebot run` runs the
    same worker alongside the bot, so this is only needed for a separate forwarding process.
    """
    from bot.config import get_settings
    from bot.forwarding.smtp import SmtpConfig, SmtpNotConfigured
    from bot.forwarding.worker import OutboxWorker, default_worker_id
    from bot.storage.db import Database, ensure_schema

    settings = get_settings()
    try:
        SmtpConfig.from_settings(settings)
    except SmtpNotConfigured:
        typer.echo("BARNEBOT_SMTP_HOST and BARNEBOT_MAIL_FROM must be set.", err=True)
        raise typer.Exit(EXIT_ATTENTION) from None
    db = Database(settings.database_url)
    try:
        ensure_schema(db.engine)
        worker = OutboxWorker(db, settings, worker_id or default_worker_id())

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            current = asyncio.current_task()
            signals = 0

            def on_signal() -> None:
                nonlocal signals
                signals += 1
                stop.set()
                if signals > 1 and current is not None:
                    current.cancel()  # a second Ctrl-C: stop now; the lease covers the rest

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, on_signal)
            if once:
                summary = await worker.run_once(stop)
                document = asdict(summary)
                if as_json:
                    _print_json(document)
                else:
                    typer.echo(", ".join(f"{k} {v}" for k, v in document.items() if v is not None))
            else:
                await worker.run(stop)

        with contextlib.suppress(asyncio.CancelledError):
            asyncio.run(main())
    finally:
        db.dispose()


def outbox_status(as_json: JsonOpt = False) -> None:
    """Messages by status, the age of the oldest unsent one, and dead letters.

    Exit 2 when there are dead letters: messages that did NOT reach the caseworker.
    """
    from bot.config import get_settings
    from bot.forwarding.outbox import status
    from bot.storage.db import Database, ensure_schema
    from bot.storage.models import utcnow

    db = Database(get_settings().database_url)
    try:
        ensure_schema(db.engine)
        with db.unit_of_work() as session:
            report = status(session, utcnow())
    finally:
        db.dispose()
    if as_json:
        _print_json(report.as_json())
    else:
        c = report.counts
        typer.echo(
            f"outbox: {c['pending']} pending ({report.retrying} retrying), "
            f"{c['sending']} sending, {c['sent']} sent, {c['dead']} dead"
        )
        age = report.oldest_unsent_age_seconds
        typer.echo("oldest unsent message: " + (_age(age) + " old" if age is not None else "none"))
        if report.dead_letters:
            typer.echo(f"DEAD LETTERS ({c['dead']}): these messages did NOT reach the caseworker:")
            for d in report.dead_letters:
                typer.echo(
                    f"  {d.reference}  attempts {d.attempts}  last error {d.last_error}  "
                    f"created {d.created_at:%Y-%m-%d %H:%M} UTC"
                )
            typer.echo(
                "Fix the cause (the worker's log has each attempt), then "
                "`barnebot outbox requeue REFERENCE…` or `barnebot outbox requeue --all-dead`."
            )
    if report.dead_letters:
        raise typer.Exit(EXIT_ATTENTION)


def outbox_requeue(
    references: Annotated[
        list[str] | None, typer.Argument(help="References of dead letters to send again.")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead letter.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send dead letters again, with a fresh set of attempts."""
    from bot.config import get_settings
    from bot.forwarding.outbox import requeue
    from bot.storage.db import Database, ensure_schema
    from bot.storage.models import utcnow

    if not references and not all_dead:
        typer.echo("Give references, or --all-dead.", err=True)
        raise typer.Exit(EXIT_ATTENTION)
    db = Database(get_settings().database_url)
    try:
        ensure_schema(db.engine)
        with db.unit_of_work() as session:
            done = requeue(session, utcnow(), None if all_dead else references)
    finally:
        db.dispose()
    if as_json:
        _print_json({"requeued": list(done)})
    else:
        typer.echo(f"requeued {len(done)}: {' '.join(done)}" if done else "nothing requeued")
    unknown = set(references or []) - set(done)
    if unknown and not all_dead:
        typer.echo(f"not dead letters (or unknown): {' '.join(sorted(unknown))}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `forward` and `outbox status|requeue` to the `barnebot` app."""
    app.command("forward")(forward)
    outbox_app = typer.Typer(
        help="The outbox of children's messages: status and dead letters.",
        no_args_is_help=True,
    )
    outbox_app.command("status")(outbox_status)
    outbox_app.command("requeue")(outbox_requeue)
    app.add_typer(outbox_app, name="outbox")


def _standalone() -> typer.Typer:
    from bot.logs import configure_logging

    app = typer.Typer(help="barnebot forwarding.", no_args_is_help=True, add_completion=False)

    @app.callback()
    def _main(
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log output.")] = False,
    ) -> None:
        configure_logging(logging.INFO if verbose else logging.WARNING)

    register(app)
    return app


if __name__ == "__main__":
    _standalone()()
