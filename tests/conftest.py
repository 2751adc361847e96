"""Shared fixtures: real SQLite files (or a real PostgreSQL server), real content, real NLU."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import Settings
from bot.nlu.rasa import RasaEngine
from bot.runtime import Runtime, build

from .smtp_server import LocalSmtp

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
#: the installed `barnebot` command of the environment running the tests
BARNEBOT = shutil.which("barnebot", path=str(Path(sys.executable).parent)) or "barnebot"
#: A PostgreSQL server URL (e.g. postgresql+psycopg://u:p@127.0.0.1:5432/postgres). When set,
#: every database test runs twice: on a SQLite file and on a fresh database on that server.
PG_URL = os.environ.get("BARNEBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One NLU model cache for the session: the model is trained once, then loaded."""
    return tmp_path_factory.mktemp("nlu-cache")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite" or not PG_URL:
        yield f"sqlite:///{tmp_path / 'barnebot.sqlite3'}"
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def settings(database_url: str, cache_dir: Path) -> Settings:
    return Settings(
        BARNEBOT_DATABASE_URL=database_url,
        BARNEBOT_CACHE_DIR=cache_dir,
        BARNEBOT_CONTENT_DIR=REPO / "content",
        BARNEBOT_NLU_DIR=REPO / "nlu",
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build(settings)
    try:
        yield rt
        if isinstance(rt.nlu, RasaEngine) and os.environ.get("BARNEBOT_TEST_RASA_URL"):
            # The suite run against a real Rasa (scripts/rasa/ci): a test that passed only
            # because the embedded engine stood in for a dead server proves nothing about Rasa.
            assert rt.nlu.stats["embedded"] == 0, f"Rasa did not answer: {rt.nlu.stats}"
    finally:
        rt.close()


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the real ``barnebot`` command in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BARNEBOT_", "TELEGRAM_"))}
    env.update(
        BARNEBOT_DATABASE_URL=settings.database_url,
        BARNEBOT_CACHE_DIR=str(settings.cache_dir),
        BARNEBOT_CONTENT_DIR=str(settings.content_dir),
        BARNEBOT_NLU_DIR=str(settings.nlu_dir),
    )
    return env


@pytest.fixture
def smtp() -> Iterator[LocalSmtp]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives."""
    server = LocalSmtp()
    server.start()
    try:
        yield server
    finally:
        server.stop()
