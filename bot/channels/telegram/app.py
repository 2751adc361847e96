"""``barnebot run``: the Telegram bot, by long polling or, when configured, a webhook.

Start-up: the core is built (content, NLU, database), the PTB ``Application`` is built with
``AIORateLimiter`` and the Bot API base URL from ``TELEGRAM_BASE_URL``, Telegram is reached
(retrying while it is unreachable), the Danish command menu is published, and updates flow.
SIGTERM or SIGINT: no new updates are fetched, the answers under way are finished and sent,
and the process exits 0. SIGHUP, or any change in the content folder: the content is loaded
again and, if valid, served from the next message on (bot/content/live.py), without restart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from urllib.parse import urlsplit

from sqlalchemy import text
from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder

from bot.channels.telegram.background import daily_retention, push_receipts
from bot.channels.telegram.handlers import ALLOWED_UPDATES, AnyApplication, TelegramChannel
from bot.channels.telegram.health import HealthServer
from bot.channels.telegram.texts import ChannelTexts
from bot.channels.telegram.updates import TolerantUpdatesRequest
from bot.config import Settings
from bot.content.live import ContentWatcher
from bot.content.loader import ContentStore
from bot.dialogue.responder import Responder
from bot.forwarding.worker import run_worker
from bot.runtime import Runtime, build
from bot.storage.db import Database

log = logging.getLogger(__name__)

#: long-polling timeout (seconds): Telegram holds getUpdates open this long when idle
POLL_TIMEOUT = 25
#: updates handled at the same time (answers within one chat stay in order)
CONCURRENT_UPDATES = 64
#: retries of a request Telegram answered with 429 (flood control), by the rate limiter
FLOOD_RETRIES = 3
#: work that runs beside the bot (the forwarding worker): started once the bot runs, handed
#: the stop event, awaited on shutdown
Companion = Callable[[asyncio.Event], Awaitable[None]]
#: libraries whose INFO logs would print the bot token (it is part of every request URL)
_QUIET_LOGGERS = ("httpx", "httpcore", "tornado.access")


def file_base_url(base_url: str) -> str:
    """The Bot API's file URL next to ``base_url``: ``…/bot`` → ``…/file/bot``."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url


def build_application(
    runtime: Runtime, settings: Settings, channel: TelegramChannel | None = None
) -> tuple[AnyApplication, TelegramChannel]:
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .rate_limiter(AIORateLimiter(max_retries=FLOOD_RETRIES))
        .concurrent_updates(CONCURRENT_UPDATES)
        .get_updates_request(TolerantUpdatesRequest(connection_pool_size=1))
    )
    if settings.telegram_base_url:
        base = settings.telegram_base_url
        builder = builder.base_url(base).base_file_url(file_base_url(base))
    application = builder.build()
    if channel is None:
        texts = ChannelTexts(Responder(runtime.content))
        texts.check()
        channel = TelegramChannel(runtime.assistant.handle, texts)
    channel.register(application)
    return application, channel


async def publish_menu(bot: Bot, texts: ChannelTexts) -> None:
    """Telegram's command menu, in Danish. Not fatal: the bot works without it."""
    try:
        await bot.set_my_commands(texts.bot_commands())
    except TelegramError as error:
        log.warning("command menu not set", extra={"error": type(error).__name__})


def _database_ok(db: Database) -> bool:
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # any failure means "not healthy"
        return False
    return True


async def _initialize(application: AnyApplication, stop: asyncio.Event) -> bool:
    """Reach Telegram (``getMe``), retrying with backoff while it is unreachable."""
    delay = 1.0
    while not stop.is_set():
        try:
            await application.initialize()
            return True
        except InvalidToken:
            raise
        except NetworkError as error:
            log.warning(
                "telegram unreachable at start; retrying",
                extra={"error": type(error).__name__, "wait_s": delay},
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)
    return False


def _polling_error(error: TelegramError) -> None:
    # PTB backs off by itself (1 s, growing to 30 s) and keeps polling.
    log.warning("polling failed; retrying", extra={"error": type(error).__name__})


async def serve(
    application: AnyApplication,
    channel: TelegramChannel,
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    companions: Sequence[Companion] = (),
) -> None:
    """Run until ``stop`` is set, then shut down cleanly."""
    mode = "webhook" if settings.webhook_url else "polling"
    if not await _initialize(application, stop):
        return
    health: HealthServer | None = None
    beside: list[asyncio.Task[None]] = []
    try:
        await publish_menu(application.bot, channel.texts)
        await application.start()
        updater = application.updater
        if updater is None:
            raise RuntimeError("the application has no updater")
        if settings.webhook_url:
            await updater.start_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlsplit(settings.webhook_url).path or "/",
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret or secrets.token_urlsafe(32),
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                bootstrap_retries=-1,
            )
        else:
            await updater.start_polling(
                timeout=POLL_TIMEOUT,
                allowed_updates=list(ALLOWED_UPDATES),
                drop_pending_updates=False,
                bootstrap_retries=-1,
                error_callback=_polling_error,
            )
        health_port = settings.health_port
        if health_port is None and settings.webhook_url:
            health_port = settings.webhook_port + 1
        if health_port is not None:

            async def check() -> dict[str, bool]:
                running = application.running and updater.running
                return {"running": running, "database": await asyncio.to_thread(_database_ok, db)}

            health = HealthServer(settings.webhook_listen, health_port, check, mode)
            health.start()
        beside = [asyncio.create_task(_companion(run, stop)) for run in companions]
        log.info("telegram channel running", extra={"mode": mode, "health_port": health_port})
        await stop.wait()
    finally:
        log.info("telegram channel stopping")
        stop.set()  # companions wind down meanwhile
        if health is not None:
            await health.stop()
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()  # waits for the answers under way
        if beside:
            await asyncio.gather(*beside)
        await application.shutdown()
        log.info("telegram channel stopped")


async def _companion(run: Companion, stop: asyncio.Event) -> None:
    try:
        await run(stop)
    except Exception as error:  # one failing companion must not take the bot down
        log.error("companion task failed", extra={"error": type(error).__name__})


async def _main(runtime: Runtime, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    application, channel = build_application(runtime, settings)

    async def publish(store: ContentStore) -> None:
        """Newly approved content: answers from the next message on, no restart."""
        menu_changed = store.ui.content_hash() != runtime.content.ui.content_hash()
        runtime.assistant.use_content(store)
        runtime.content = store
        channel.texts.respond = runtime.assistant.respond
        if menu_changed and application.running:
            await publish_menu(application.bot, channel.texts)

    watcher = ContentWatcher(settings.content_dir, runtime.content, publish)
    loop.add_signal_handler(signal.SIGHUP, watcher.wake.set)  # `kill -HUP`: reload content now
    companions: list[Companion] = [
        lambda stop: run_worker(settings, stop, db=runtime.db),
        lambda stop: push_receipts(runtime, channel.sender, stop),
        lambda stop: daily_retention(runtime, settings, stop),
        watcher.run,
    ]
    await serve(application, channel, settings, runtime.db, stop, companions)


def run(settings: Settings) -> int:
    """Run the bot until SIGTERM/SIGINT. Returns the process exit code."""
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("bot.channels.telegram", "bot.content.live"):
        operator_log = logging.getLogger(name)
        if operator_log.level == logging.NOTSET:
            # start, stop, outages, content published: an operator wants these
            operator_log.setLevel(logging.INFO)
    runtime = build(settings)
    try:
        asyncio.run(_main(runtime, settings))
    except InvalidToken:
        log.error("telegram rejected the token (TELEGRAM_TOKEN)")
        return 2
    except OSError as error:  # e.g. the webhook or health port is taken
        log.error("cannot listen", extra={"error": type(error).__name__, "errno": error.errno})
        return 1
    finally:
        runtime.close()
    return 0
