"""``serve`` in this process (as bench/telegram_latency.py uses it), with a companion task."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.channels.telegram.app import build_application, serve
from bot.config import Settings
from bot.runtime import Runtime

from .child import Child, joined
from .conftest import requires_emulator
from .harness import TOKEN, Emulator
from .shim import BotApiShim

pytestmark = requires_emulator


def test_companions_run_beside_the_bot_and_stop_with_it(
    emulator_installed: None, tmp_path: Path, runtime: Runtime, settings: Settings
) -> None:
    emulator = Emulator(tmp_path)
    emulator.start()
    shim = BotApiShim(emulator.url, TOKEN)
    shim.start()
    configured = settings.model_copy(
        update={"telegram_token": TOKEN, "telegram_base_url": shim.base_url}
    )
    events: list[str] = []

    async def companion(stop: asyncio.Event) -> None:
        events.append("started")
        await stop.wait()
        events.append("stopped")

    async def failing(_stop: asyncio.Event) -> None:
        raise RuntimeError("a companion that breaks")

    async def main() -> str:
        stop = asyncio.Event()
        application, channel = build_application(runtime, configured)
        running = asyncio.create_task(
            serve(application, channel, configured, runtime.db, stop, [companion, failing])
        )
        while events != ["started"]:
            await asyncio.sleep(0.02)
        child = Child(emulator.url, TOKEN, 77)
        try:
            answer = joined(await asyncio.to_thread(child.ask, "/start"))
        finally:
            child.close()
        stop.set()
        await running
        return answer

    try:
        answer = asyncio.run(main())
    finally:
        shim.stop()
        emulator.stop()
    assert "robot" in answer.lower(), "the bot answers although a companion failed"
    assert events == ["started", "stopped"]
