"""Settings from the environment (and an optional ``.env`` file); names fixed by SPEC.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

APP = "barnebot"
PACKAGE_ROOT = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    """A data folder shipped with barnebot: the checkout's own, else the installed copy."""
    checkout = PACKAGE_ROOT.parent / name
    if checkout.is_dir():
        return checkout
    return PACKAGE_ROOT / "_shipped" / name


def default_database_url() -> str:
    path = Path(user_data_dir(APP, appauthor=False)) / "barnebot.sqlite3"
    return f"sqlite:///{path}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(default_factory=default_database_url, alias="BARNEBOT_DATABASE_URL")
    content_dir: Path = Field(
        default_factory=lambda: _shipped("content"), alias="BARNEBOT_CONTENT_DIR"
    )
    nlu_dir: Path = Field(default_factory=lambda: _shipped("nlu"), alias="BARNEBOT_NLU_DIR")
    nlu_engine: Literal["embedded", "rasa"] = Field("embedded", alias="BARNEBOT_NLU_ENGINE")
    rasa_url: str = Field("http://127.0.0.1:5005", alias="BARNEBOT_RASA_URL")
    cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir(APP, appauthor=False)),
        alias="BARNEBOT_CACHE_DIR",
    )
    retention_days: int = Field(30, alias="BARNEBOT_RETENTION_DAYS", ge=1)

    telegram_token: str | None = Field(None, alias="TELEGRAM_TOKEN")
    telegram_base_url: str | None = Field(None, alias="TELEGRAM_BASE_URL")

    smtp_host: str | None = Field(None, alias="BARNEBOT_SMTP_HOST")
    smtp_port: int | None = Field(None, alias="BARNEBOT_SMTP_PORT")
    smtp_username: str | None = Field(None, alias="BARNEBOT_SMTP_USERNAME")
    smtp_password: str | None = Field(None, alias="BARNEBOT_SMTP_PASSWORD")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", alias="BARNEBOT_SMTP_SECURITY"
    )
    mail_from: str | None = Field(None, alias="BARNEBOT_MAIL_FROM")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
