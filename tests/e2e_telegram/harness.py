"""Real processes for the end-to-end tests: the emulator (node), the shim, ``barnebot run``.

::

    child (tests) ──client API──▶ telegram-test-api (node, 127.0.0.1:E)
                                        ▲
    barnebot run ──Bot API──▶ shim (127.0.0.1:S, in the test process) ──┘
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from .child import Child
from .shim import BotApiShim, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
EMULATOR_JS = HERE / "emulator.js"
EMULATOR_PACKAGE = REPO / "node_modules" / "telegram-test-api"
TOKEN = "4242:barnebot-e2e-token"
NODE = shutil.which("node")
NPM = shutil.which("npm")
MISSING_NODE = (
    None
    if NODE and NPM
    else "node and npm are needed for the Telegram end-to-end tests (telegram-test-api)"
)
READY_EVENT = "telegram channel running"
#: the installed console script when there is one (it is what operators run)
_SCRIPT = Path(sys.executable).with_name("barnebot")
BARNEBOT = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "bot"]


def ensure_emulator_installed() -> None:
    """``npm ci`` once if ./node_modules lacks the emulator (CI runs it in .ci/run)."""
    if EMULATOR_PACKAGE.is_dir():
        return
    assert NPM is not None
    subprocess.run(
        [NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=REPO,
        check=True,
        timeout=600,
    )


class Emulator:
    """telegram-test-api as a node process on 127.0.0.1, messages kept for an hour."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.config = workdir / f"emulator-{self.port}.json"
        self.log = workdir / f"emulator-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        assert NODE is not None
        # storeTimeout: the emulator forgets messages after 60 s by default.
        self.config.write_text(
            json.dumps({"port": self.port, "host": "127.0.0.1", "storeTimeout": 3600})
        )
        seen = self.log.stat().st_size if self.log.exists() else 0  # earlier runs' lines
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [NODE, str(EMULATOR_JS), str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout
        while f"listening {self.url}" not in self.log.read_text()[seen:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"emulator did not start:\n{self.log.read_text()[seen:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None


class BotProcess:
    """``barnebot run`` as a subprocess; its log lines (JSON) are collected."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 240.0, *, wait: bool = True) -> None:
        self.lines = []
        self.process = subprocess.Popen(
            [*BARNEBOT, "run"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            self.wait_for(READY_EVENT, timeout)

    def wait_for(self, event: str, timeout: float = 240.0) -> None:
        """Until a log line mentions ``event``; fails if the process exits first."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not any(event in line for line in self.lines):
            if self.process.poll() is not None:
                raise RuntimeError(f"barnebot run exited early:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {event!r} in {timeout}s:\n{self.log_text()}")
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise
        finally:
            if self._reader is not None:
                self._reader.join(5)
            self.process = None
        return code

    def log_text(self) -> str:
        return "\n".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict):
                out.append(document)
        return out


class TelegramStack:
    """Emulator + shim + bot for one or more tests; each child gets its own chat id."""

    _chat_ids = itertools.count(1000)

    def __init__(self, workdir: Path, cache_dir: Path, **bot_env: str) -> None:
        self.workdir = workdir
        self.emulator = Emulator(workdir)
        self.shim = BotApiShim(self.emulator.url, TOKEN)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=self.shim.base_url,
            BARNEBOT_DATABASE_URL=f"sqlite:///{workdir / 'barnebot.sqlite3'}",
            BARNEBOT_CACHE_DIR=str(cache_dir),
            BARNEBOT_CONTENT_DIR=str(REPO / "content"),
            BARNEBOT_NLU_DIR=str(REPO / "nlu"),
            PYTHONUNBUFFERED="1",
        )
        env.update(bot_env)
        self.bot = BotProcess(env)
        self.children: list[Child] = []

    def start(self) -> TelegramStack:
        self.emulator.start()
        self.shim.start()
        self.bot.start()
        return self

    def stop(self) -> None:
        for child in self.children:
            child.close()
        try:
            self.bot.stop()
        finally:
            self.shim.stop()
            self.emulator.stop()

    def child(self, *, chat_type: str = "private", first_name: str = "Barn") -> Child:
        chat_id = next(self._chat_ids)
        if chat_type != "private":
            chat_id = -chat_id
        child = Child(
            self.emulator.url, TOKEN, chat_id, chat_type=chat_type, first_name=first_name
        )
        self.children.append(child)
        return child

    def restart_bot(self) -> int:
        code = self.bot.stop()
        self.bot.start()
        return code

    def emulator_away(self) -> None:
        """Telegram goes away: the shim's port closes and the emulator stops."""
        self.shim.stop()
        self.emulator.stop()

    def emulator_back(self) -> None:
        self.emulator.start()
        self.shim.start()

    def wait_until(self, condition: Any, timeout: float = 20.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what or condition}")
            time.sleep(0.05)

    def http(self) -> httpx.Client:
        return httpx.Client(timeout=10)
