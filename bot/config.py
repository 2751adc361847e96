"""Settings from the environment (and an optional ``.env`` file); names fixed by SPEC.md."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import Field, model_validator
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
    #: the token the Rasa server was started with (`rasa run --auth-token`); required for rasa
    rasa_token: str | None = Field(None, alias="BARNEBOT_RASA_TOKEN", min_length=1)
    #: seconds to wait for Rasa's answer before the embedded engine answers that message
    rasa_timeout: float = Field(1.0, alias="BARNEBOT_RASA_TIMEOUT", gt=0, le=30)
    #: after a failure, Rasa is not asked again for this long (embedded answers meanwhile)
    rasa_retry_seconds: float = Field(30.0, alias="BARNEBOT_RASA_RETRY_SECONDS", ge=0)
    cache_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir(APP, appauthor=False)),
        alias="BARNEBOT_CACHE_DIR",
    )
    retention_days: int = Field(30, alias="BARNEBOT_RETENTION_DAYS", ge=1)
    #: key for hashing invite codes; when unset, a random key kept in the user data directory
    secret_key: str | None = Field(None, alias="BARNEBOT_SECRET_KEY", min_length=16)
    #: Fernet keys for message text at rest, comma-separated, newest first (see crypto.py)
    message_keys: str | None = Field(None, alias="BARNEBOT_MESSAGE_KEYS")
    #: delivered messages are deleted this many days after delivery
    delivered_retention_days: int = Field(30, alias="BARNEBOT_DELIVERED_RETENTION_DAYS", ge=1)
    #: the bot's Telegram username, for invite links https://t.me/<username>?start=<code>
    telegram_username: str = Field("barnebot", alias="BARNEBOT_TELEGRAM_USERNAME")
    invite_days: int = Field(30, alias="BARNEBOT_INVITE_DAYS", ge=1, le=365)

    telegram_token: str | None = Field(None, alias="TELEGRAM_TOKEN")
    telegram_base_url: str | None = Field(None, alias="TELEGRAM_BASE_URL")
    #: public HTTPS URL Telegram posts updates to; set → webhook mode, unset → long polling
    webhook_url: str | None = Field(None, alias="BARNEBOT_WEBHOOK_URL")
    #: address and port the webhook server listens on (usually behind a TLS reverse proxy)
    webhook_listen: str = Field("127.0.0.1", alias="BARNEBOT_WEBHOOK_LISTEN")
    webhook_port: int = Field(8443, alias="BARNEBOT_WEBHOOK_PORT", ge=1, le=65535)
    #: Telegram's secret_token (1-256 of A-Z a-z 0-9 _ -); a random one per start when unset
    webhook_secret: str | None = Field(
        None, alias="BARNEBOT_WEBHOOK_SECRET", pattern=r"^[A-Za-z0-9_-]{1,256}$"
    )
    #: port of the health endpoint (GET /healthz) on the webhook listen address; in webhook
    #: mode it defaults to the webhook port + 1, in polling mode it is off unless set
    health_port: int | None = Field(None, alias="BARNEBOT_HEALTH_PORT", ge=1, le=65535)

    smtp_host: str | None = Field(None, alias="BARNEBOT_SMTP_HOST")
    smtp_port: int | None = Field(None, alias="BARNEBOT_SMTP_PORT")
    smtp_username: str | None = Field(None, alias="BARNEBOT_SMTP_USERNAME")
    smtp_password: str | None = Field(None, alias="BARNEBOT_SMTP_PASSWORD")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", alias="BARNEBOT_SMTP_SECURITY"
    )
    mail_from: str | None = Field(None, alias="BARNEBOT_MAIL_FROM")
    #: seconds per SMTP step (connect, EHLO, STARTTLS, MAIL, RCPT, DATA)
    smtp_timeout: float = Field(10.0, alias="BARNEBOT_SMTP_TIMEOUT", gt=0)
    #: CA bundle (PEM) for a relay whose certificate a private CA signed; else the system's
    smtp_ca_file: Path | None = Field(None, alias="BARNEBOT_SMTP_CA_FILE")

    # The forwarding worker (bot/forwarding): retries, leases, dead letters.
    #: attempts before a message becomes a dead letter (`barnebot outbox status` shows it)
    outbox_max_attempts: int = Field(12, alias="BARNEBOT_OUTBOX_MAX_ATTEMPTS", ge=1)
    #: how long a claimed message belongs to one worker; a crashed worker's claim then lapses
    outbox_lease_seconds: float = Field(120.0, alias="BARNEBOT_OUTBOX_LEASE_SECONDS", gt=0)
    #: backoff after the n-th failed attempt: base·2^(n-1), capped, with jitter (50–100 %)
    outbox_backoff_base_seconds: float = Field(10.0, alias="BARNEBOT_OUTBOX_BACKOFF_BASE", gt=0)
    outbox_backoff_max_seconds: float = Field(1800.0, alias="BARNEBOT_OUTBOX_BACKOFF_MAX", gt=0)
    #: how often an idle worker looks for due messages
    outbox_poll_seconds: float = Field(1.0, alias="BARNEBOT_OUTBOX_POLL_SECONDS", gt=0)
    #: messages claimed per short transaction
    outbox_batch_size: int = Field(10, alias="BARNEBOT_OUTBOX_BATCH_SIZE", ge=1, le=500)

    @model_validator(mode="after")
    def _rasa_needs_a_token(self) -> Settings:
        if self.nlu_engine == "rasa" and not self.rasa_token:
            raise ValueError(
                "BARNEBOT_NLU_ENGINE=rasa needs BARNEBOT_RASA_TOKEN (the --auth-token the Rasa "
                "server runs with; scripts/rasa/serve keeps it in .rasa-run/env)"
            )
        return self


def secret_key(settings: Settings) -> bytes:
    """The invite-code key: from the environment, else created once and kept (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key.encode("utf-8")
    path = Path(user_data_dir(APP, appauthor=False)) / "secret.key"
    if not path.is_file():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_hex(32), encoding="ascii")
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text(encoding="ascii").strip().encode("ascii")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
