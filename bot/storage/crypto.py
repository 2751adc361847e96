"""Message text encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256, from ``cryptography``).

Keys: ``BARNEBOT_MESSAGE_KEYS`` is a comma-separated list of Fernet keys; the first encrypts,
all decrypt. Rotation: put a new key first, run ``barnebot db rotate-keys`` (re-encrypts every
stored text with the new key), then drop the old key. Without the variable a key is derived
from the installation's secret (``BARNEBOT_SECRET_KEY`` or the generated key file), so a
fresh ``barnebot chat`` needs no set-up.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Text, TypeDecorator
from sqlalchemy.engine import Dialect

_TOKEN_PREFIX = "gAAAAA"  # every Fernet token starts with its version byte 0x80


def derive_key(secret: bytes) -> str:
    digest = hashlib.sha256(b"barnebot message key v1\0" + secret).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


@lru_cache(maxsize=1)
def keyring() -> MultiFernet:
    from bot.config import get_settings, secret_key

    settings = get_settings()
    keys = [k.strip() for k in (settings.message_keys or "").split(",") if k.strip()]
    if not keys:
        keys = [derive_key(secret_key(settings))]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(text: str) -> str:
    return keyring().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    if not token.startswith(_TOKEN_PREFIX):
        return token  # empty (after deletion) or written before encryption existed
    return keyring().decrypt(token.encode("ascii")).decode("utf-8")


def rotate(token: str) -> str:
    if not token.startswith(_TOKEN_PREFIX):
        return encrypt(token) if token else token
    return keyring().rotate(token.encode("ascii")).decode("ascii")


class EncryptedText(TypeDecorator[str]):
    """A Text column whose value is stored encrypted; the ORM sees plain text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return encrypt(value) if value else value

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return decrypt(value) if value else value
