"""Build the e-mail a caseworker receives for one outbox message.

Every Danish word is in ``content/email/`` (Jinja2); this module only fills in one message's
own fields, so nothing about any other child can end up in the headers or the body. The
plain-text part uses the content sandbox (no escaping: it is text); the HTML part uses its own
sandboxed environment with autoescaping on, so a child's ``<b>`` arrives as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime as rfc2822_date
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime
from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.content.render import LOCALE
from bot.content.render import environment as text_environment
from bot.storage.models import OutboxMessage

TIMEZONE = ZoneInfo("Europe/Copenhagen")
#: "mandag den 23. november 2026 kl. 11.57"
TIME_FORMAT = "EEEE 'den' d. MMMM y 'kl.' HH.mm"
TEMPLATE_NAMES = ("subject.txt.j2", "message.txt.j2", "message.html.j2")
_SPACE = re.compile(r"\s+")


class _HeaderClasses(HeaderRegistry):
    """The standard registry, but each header class is made once: the standard library makes
    a new class for every header it sets, a third of the cost of building an e-mail."""

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


#: ``email.policy.default`` (RFC 5322, UTF-8 headers encoded as needed) with cached classes
POLICY = default_policy.clone(header_factory=_HeaderClasses())


@lru_cache(maxsize=1)
def html_environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=True,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class MailTemplates:
    subject: Template
    text: Template
    html: Template

    @classmethod
    def load(cls, content_dir: Path) -> MailTemplates:
        folder = content_dir / "email"
        missing = [n for n in TEMPLATE_NAMES if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"e-mail templates missing in {folder}: {', '.join(missing)}")

        def read(name: str) -> str:
            return (folder / name).read_text(encoding="utf-8")

        return cls(
            subject=text_environment().from_string(read("subject.txt.j2")),
            text=text_environment().from_string(read("message.txt.j2")),
            html=html_environment().from_string(read("message.html.j2")),
        )


def municipality_names(content_dir: Path) -> dict[str, str]:
    """Municipality code → name, from ``content/municipalities.yml`` (empty if unreadable)."""
    path = content_dir / "municipalities.yml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {str(m["code"]): str(m["name"]) for m in document["municipalities"]}
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return {}


def local_time(moment: datetime) -> str:
    return format_datetime(moment, TIME_FORMAT, tzinfo=TIMEZONE, locale=LOCALE)


def context(message: OutboxMessage, municipalities: Mapping[str, str]) -> dict[str, Any]:
    """The template variables: this one message's fields and nothing else."""
    body = message.body.replace("\r\n", "\n").replace("\r", "\n").strip()
    return {
        "child": message.display_name or None,
        "recipient_name": message.recipient_name or None,
        "linked": message.caseworker_id is not None,
        "municipality": municipalities.get(message.municipality_code or ""),
        "urgent": bool(message.urgent),
        "time": local_time(message.created_at),
        "reference": message.reference,
        "body": body,
        "body_lines": body.split("\n"),
    }


def build_email(
    message: OutboxMessage,
    mail_from: str,
    templates: MailTemplates,
    municipalities: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The e-mail for one outbox row: plain text plus an HTML alternative.

    The Message-ID and Date come from the row, so a resend after a crash is the same message
    to the receiving side.
    """
    values = context(message, municipalities or {})
    subject = _SPACE.sub(" ", templates.subject.render(**values)).strip()
    email = EmailMessage(policy=POLICY)
    email["Subject"] = subject
    email["From"] = mail_from
    email["To"] = Address(display_name=message.recipient_name or "", addr_spec=message.recipient)
    email["Date"] = rfc2822_date(message.created_at)
    email["Message-ID"] = message.message_id
    email["Content-Language"] = "da"
    # Out-of-office and other auto-replies have nobody to go to: the child cannot read mail.
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    if message.urgent:
        email["Importance"] = "high"
        email["X-Priority"] = "1"
    email.set_content(
        templates.text.render(**values).strip() + "\n", subtype="plain", cte="quoted-printable"
    )
    email.add_alternative(
        templates.html.render(**values).strip() + "\n", subtype="html", cte="quoted-printable"
    )
    # A boundary derived from the reference makes a resend byte-for-byte the same message.
    # "=_" cannot occur in quoted-printable text, so it cannot collide with the content.
    email.set_boundary(f"=_barnebot_{message.reference}")
    return email
