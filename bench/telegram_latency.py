"""Bot-side handling time per Telegram update, against the local Bot API emulator.

Starts telegram-test-api (node) and the test shim on 127.0.0.1, runs barnebot's Telegram
channel in this process exactly as ``barnebot run`` does (``serve``), and has children send
texts (the held-out NLU set) and button presses. Handling time is measured from the moment
PTB dispatches an update to the moment its last handler returns: "typing…", the core (safety,
NLU, policy, content, database) and sending every reply to the emulator. The core's own share
is reported too. Prints one JSON document (median and p95 in ms).

Usage: python bench/telegram_latency.py [--updates 300] [--chats 40] [--rate 8]
Needs node and npm (``npm ci`` at the repository root installs the emulator).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from telegram import Update  # noqa: E402
from telegram.ext import ContextTypes, TypeHandler  # noqa: E402

from bot.channels.telegram.app import build_application, serve  # noqa: E402
from bot.channels.telegram.handlers import TelegramChannel  # noqa: E402
from bot.channels.telegram.texts import ChannelTexts  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.dialogue.messages import Reply, UserMessage  # noqa: E402
from bot.dialogue.responder import Responder  # noqa: E402
from bot.nlu.training_data import load_files  # noqa: E402
from bot.runtime import build  # noqa: E402
from tests.e2e_telegram.child import Child  # noqa: E402
from tests.e2e_telegram.harness import (  # noqa: E402
    MISSING_NODE,
    TOKEN,
    Emulator,
    ensure_emulator_installed,
)
from tests.e2e_telegram.shim import BotApiShim  # noqa: E402

BUTTONS = ("menu", "rights", "topic:complaint", "more:complaint", "topic:support_person")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share + 0.5) - 1)]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(_percentile(values, 0.95), 2),
        "max_ms": round(max(values), 2),
    }


async def _bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    emulator = Emulator(workdir)
    emulator.start()
    shim = BotApiShim(emulator.url, TOKEN)
    shim.start()
    settings = Settings(
        TELEGRAM_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=shim.base_url,
        BARNEBOT_DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        BARNEBOT_CONTENT_DIR=REPO / "content",
        BARNEBOT_NLU_DIR=REPO / "nlu",
        **({"BARNEBOT_CACHE_DIR": args.cache_dir} if args.cache_dir else {}),
    )
    runtime = build(settings)
    core_ms: list[float] = []

    def timed_handle(message: UserMessage) -> list[Reply]:
        t0 = time.perf_counter()
        try:
            return runtime.assistant.handle(message)
        finally:
            core_ms.append((time.perf_counter() - t0) * 1000)

    channel = TelegramChannel(timed_handle, ChannelTexts(Responder(runtime.content)))
    application, channel = build_application(runtime, settings, channel)
    started: dict[int, float] = {}
    handled_ms: list[float] = []

    async def mark_start(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        started[update.update_id] = time.perf_counter()

    async def mark_end(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        t0 = started.pop(update.update_id, None)
        if t0 is not None:
            handled_ms.append((time.perf_counter() - t0) * 1000)

    application.add_handler(TypeHandler(Update, mark_start), group=-1)
    application.add_handler(TypeHandler(Update, mark_end), group=1)

    stop = asyncio.Event()
    server = asyncio.create_task(serve(application, channel, settings, runtime.db, stop))
    while not (application.running and application.updater and application.updater.running):
        await asyncio.sleep(0.05)

    texts = [e.text for e in load_files([REPO / "tests" / "data" / "nlu_heldout.yml"]).examples]
    rng = random.Random(7)
    children = [Child(emulator.url, TOKEN, 50_000 + i) for i in range(args.chats)]

    def drive(count: int) -> None:
        interval = 1.0 / args.rate
        for i in range(count):
            child = children[i % len(children)]
            if i % 5 == 4:
                child.press(rng.choice(BUTTONS))
            else:
                child.say(rng.choice(texts))
            time.sleep(interval)

    warmup = min(20, args.updates)
    await asyncio.to_thread(drive, warmup)
    await asyncio.sleep(1.0)
    handled_ms.clear()
    core_ms.clear()
    t_start = time.perf_counter()
    await asyncio.to_thread(drive, args.updates)
    deadline = time.monotonic() + 60
    while len(handled_ms) < args.updates and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t_start

    stop.set()
    await server
    for child in children:
        child.close()
    runtime.close()
    shim.stop()
    emulator.stop()
    return {
        "updates": args.updates,
        "handled": len(handled_ms),
        "chats": args.chats,
        "offered_rate_per_s": args.rate,
        "elapsed_s": round(elapsed, 1),
        "handling": _summary(handled_ms),
        "core_only": _summary(core_ms),
        "bar_p95_ms": 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--chats", type=int, default=40)
    parser.add_argument("--rate", type=float, default=8.0, help="updates per second offered")
    parser.add_argument("--cache-dir", default=None, help="NLU model cache (BARNEBOT_CACHE_DIR)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the core's warnings would clutter the report
    if MISSING_NODE:
        sys.exit(MISSING_NODE)
    ensure_emulator_installed()
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(_bench(args, Path(tmp)))
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
