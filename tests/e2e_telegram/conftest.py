"""Fixtures for the Telegram end-to-end tests: real processes on 127.0.0.1.

Needs ``node`` and ``npm`` (skipped with that reason when they are missing; CI has them).
``npm ci`` is run once if ./node_modules lacks telegram-test-api. The NLU model cache is the
test session's (``cache_dir`` in tests/conftest.py): it is trained once, then loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .harness import MISSING_NODE, TelegramStack, ensure_emulator_installed

requires_emulator = pytest.mark.skipif(MISSING_NODE is not None, reason=MISSING_NODE or "")


@pytest.fixture(scope="session")
def emulator_installed() -> None:
    if MISSING_NODE is not None:
        pytest.skip(MISSING_NODE)
    ensure_emulator_installed()


@pytest.fixture(scope="session")
def stack(
    emulator_installed: None, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path
) -> Iterator[TelegramStack]:
    """One emulator, shim and bot shared by the tests that do not break anything."""
    shared = TelegramStack(tmp_path_factory.mktemp("telegram"), cache_dir)
    try:
        yield shared.start()
    finally:
        shared.stop()


StackFactory = Callable[..., TelegramStack]


@pytest.fixture
def own_stack(
    emulator_installed: None, tmp_path_factory: pytest.TempPathFactory, cache_dir: Path
) -> Iterator[StackFactory]:
    """A private stack for a test that restarts, breaks or reconfigures something."""
    started: list[TelegramStack] = []

    def make(*, serve_unserved: bool = True, **bot_env: str) -> TelegramStack:
        fresh = TelegramStack(tmp_path_factory.mktemp("telegram-own"), cache_dir, **bot_env)
        fresh.shim.serve_unserved = serve_unserved
        started.append(fresh)
        return fresh.start()

    try:
        yield make
    finally:
        for fresh in started:
            fresh.stop()
