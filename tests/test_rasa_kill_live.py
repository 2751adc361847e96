"""A real Rasa server killed in the middle of a real ``barnebot chat`` conversation.

Two real processes: a Rasa Open Source server started by ``scripts/rasa/serve`` (its own
venv, its own trained model, a port and a run folder of this test's own) and ``barnebot chat
--json`` with ``BARNEBOT_NLU_ENGINE=rasa``. The test talks to barnebot as a child would,
SIGKILLs Rasa's whole process group while the bot is waiting for the child's municipality, and
checks that every following message still gets its right answer quickly (the embedded engine
answers in Rasa's place), that barnebot's log says so without a word of what the child wrote,
and that barnebot goes back to Rasa once it is served again.

Needs ``BARNEBOT_TEST_RASA_MODEL`` (a model from ``scripts/rasa/train``) and Rasa's venv
(``BARNEBOT_RASA_VENV``, default ``.rasa-venv``); ``scripts/rasa/ci`` sets both. Skipped
otherwise. Takes about two Rasa start-ups (15–45 s each).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from .conftest import BARNEBOT, REPO
from .smtp_server import free_port

MODEL = os.environ.get("BARNEBOT_TEST_RASA_MODEL")
VENV = Path(os.environ.get("BARNEBOT_RASA_VENV", REPO / ".rasa-venv"))

pytestmark = [
    pytest.mark.rasa,
    pytest.mark.skipif(
        not (MODEL and Path(MODEL).is_file() and (VENV / "bin" / "rasa").exists()),
        reason="needs BARNEBOT_TEST_RASA_MODEL and Rasa's venv (scripts/rasa/ci sets them up)",
    ),
]

TOKEN = "kill-test-token-" + os.urandom(8).hex()


class RasaServer:
    """Rasa served by the real ``scripts/rasa/serve``, in a run folder of its own."""

    def __init__(self, run_dir: Path, port: int) -> None:
        self.run_dir = run_dir
        self.env = {
            **os.environ,
            "BARNEBOT_RASA_VENV": str(VENV),
            "BARNEBOT_RASA_RUN": str(run_dir),
            "BARNEBOT_RASA_PORT": str(port),
            "BARNEBOT_RASA_TOKEN": TOKEN,
        }
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "rasa" / "serve"), str(MODEL)],
            env=self.env,
            check=True,
            timeout=300,
        )

    @property
    def pid(self) -> int:
        return int((self.run_dir / "rasa.pid").read_text())

    def kill(self) -> None:
        """SIGKILL, no goodbye: the whole process group, as the OOM killer or a crash would."""
        pid = self.pid
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                return
            if "(zombie)" in status:  # dead, not yet reaped by init: it answers nothing
                return
            time.sleep(0.1)
        raise AssertionError("Rasa survived SIGKILL")

    def stop(self) -> None:
        subprocess.run(
            [str(REPO / "scripts" / "rasa" / "stop")], env=self.env, check=False, timeout=60
        )


@pytest.fixture
def rasa(tmp_path: Path) -> Iterator[RasaServer]:
    server = RasaServer(tmp_path / "rasa-run", free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Chat:
    """``barnebot chat --json`` as a child's conversation: one line in, one line out."""

    def __init__(self, env: dict[str, str], log: IO[str]) -> None:
        self.proc = subprocess.Popen(
            [BARNEBOT, "-v", "chat", "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )

    def say(self, text: str) -> tuple[str, list[str], float]:
        assert self.proc.stdin and self.proc.stdout
        started = time.perf_counter()
        self.proc.stdin.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        took = time.perf_counter() - started
        assert line, "barnebot chat ended"
        replies: list[dict[str, Any]] = json.loads(line)["replies"]
        assert replies and all(r["text"].strip() for r in replies), (text, replies)
        buttons = [b["payload"] for b in replies[-1]["buttons"]]
        return "\n".join(r["text"] for r in replies), buttons, took

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def log_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events


def test_killing_real_rasa_mid_conversation_never_leaves_a_child_without_an_answer(
    rasa: RasaServer, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **cli_env,
        "BARNEBOT_NLU_ENGINE": "rasa",
        "BARNEBOT_RASA_URL": rasa.url,
        "BARNEBOT_RASA_TOKEN": TOKEN,
        "BARNEBOT_RASA_TIMEOUT": "2",
        "BARNEBOT_RASA_RETRY_SECONDS": "1",
    }
    log_path = tmp_path / "barnebot.log"
    with log_path.open("w", encoding="utf-8") as log:
        chat = Chat(env, log)
        try:
            text, _, _ = chat.say("hej")
            assert "robot" in text.lower()
            text, _, _ = chat.say("hvem er min rådgiver")  # the bot asks for the municipality
            assert "kommune" in text.lower()
            assert not [e for e in log_events(log_path) if "rasa" in e.get("event", "")]

            rasa.kill()  # mid-form

            conversation = [
                # the form goes on: the municipality, understood without Rasa
                ("aarhus", lambda t, b: "Aarhus" in t),
                ("kan jeg klage over kommunen", lambda t, b: "klage" in t.lower() and "§" in t),
                # danger: the safety layer, which never depends on Rasa
                ("min far slår mig", lambda t, b: "112" in t),
                ("hvd er en bisider", lambda t, b: "bisidder" in t.lower()),
                ("qwxz vbnm plk", lambda t, b: bool(b)),  # not understood, still a way on
            ]
            for said, expected in conversation:
                text, buttons, took = chat.say(said)
                assert expected(text, buttons), (said, text)
                # one connection refused, then an open circuit: never a long wait
                assert took < 3.0, (said, took)
            down = [e for e in log_events(log_path) if "rasa" in e.get("event", "")]
            assert down and "unavailable" in down[0]["event"]

            rasa.start()  # the operator (or systemd) serves it again, same port
            time.sleep(1.2)  # the retry interval
            text, _, _ = chat.say("hvad er en bisidder")
            assert "bisidder" in text.lower()
            events = [e.get("event", "") for e in log_events(log_path)]
            assert "rasa is back" in events, events
        finally:
            chat.close()

    # The log says what happened, never what the child wrote nor the token.
    logged = log_path.read_text(encoding="utf-8")
    for secret in ("aarhus", "klage", "far slår", "bisider", "qwxz", TOKEN):
        assert secret not in logged.lower(), secret
