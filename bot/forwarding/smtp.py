"""Hand e-mails to the relay with aiosmtplib: one connection reused for a run of messages.

Security follows ``BARNEBOT_SMTP_SECURITY``: ``starttls`` (required, not opportunistic: a
relay that does not offer STARTTLS is an error, never a silent fall-back to plain text),
``tls`` (implicit TLS, usually port 465) or ``none`` (loopback relays). Certificates are
verified against the system's CAs, or ``BARNEBOT_SMTP_CA_FILE`` for a private CA.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import aiosmtplib

from bot.config import Settings

Security = Literal["starttls", "tls", "none"]
DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "tls": 465, "none": 25}


class SmtpNotConfigured(RuntimeError):
    """BARNEBOT_SMTP_HOST or BARNEBOT_MAIL_FROM is missing."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    mail_from: str
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        if not settings.smtp_host or not settings.mail_from:
            raise SmtpNotConfigured("set BARNEBOT_SMTP_HOST and BARNEBOT_MAIL_FROM")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port or DEFAULT_PORTS[settings.smtp_security],
            security=settings.smtp_security,
            mail_from=settings.mail_from,
            username=settings.smtp_username or None,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
            ca_file=settings.smtp_ca_file,
        )

    @property
    def loopback(self) -> bool:
        return self.host in ("localhost", "127.0.0.1", "::1")

    def tls_context(self) -> ssl.SSLContext | None:
        if self.security == "none":
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


def envelope_sender(mail_from: str) -> str:
    """The bare address of ``BARNEBOT_MAIL_FROM`` ("barnebot <a@b.dk>" → "a@b.dk")."""
    from email.utils import parseaddr

    return parseaddr(mail_from)[1] or mail_from


class SmtpSender:
    """One SMTP session, opened on first use and reused until ``close`` or an error."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._client: aiosmtplib.SMTP | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def connect(self) -> None:
        if self.connected:
            return
        self.drop()
        config = self.config
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=config.tls_context(),
        )
        await client.connect()
        try:
            if config.username:
                await client.login(config.username, config.password or "")
        except BaseException:
            client.close()
            raise
        self._client = client

    async def send(self, message: EmailMessage, recipient: str) -> None:
        """Deliver one message to one recipient; raises on anything but acceptance.

        After any error the session is dropped, so the next message starts on a fresh one.
        """
        try:
            await self.connect()
            assert self._client is not None
            sender = envelope_sender(self.config.mail_from)
            options = [] if (sender + recipient).isascii() else ["SMTPUTF8"]
            await self._client.send_message(
                message, sender=sender, recipients=[recipient], mail_options=options
            )
        except BaseException:
            self.drop()
            raise

    def drop(self) -> None:
        """Abandon the session without QUIT (after an error, or when stopping)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if client.is_connected:
            try:
                await client.quit(timeout=min(self.config.timeout, 2.0))
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
        else:
            client.close()
