"""Invite codes: single use, expiring, stored only as a keyed hash, hard to guess.

A code is 10 characters from an alphabet without look-alikes (no I/L/1, O/0), at least one of
them a digit: 31^10 − 23^10 ≈ 2^49.5 possibilities. It is shown as ``ABCDE-FGHJK``; children
may type it in lower case, with or without the dash or spaces. The digit is what tells a code
typed in lower case from an ordinary ten-letter word (``looks_like_code``).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 10
#: log2 of the number of possible codes (31^10 minus the 23^10 without a digit)
ENTROPY_BITS = math.log2(len(ALPHABET) ** LENGTH - sum(c.isalpha() for c in ALPHABET) ** LENGTH)
_LOOKS_LIKE_CODE = re.compile(r"^\s*[A-Za-z0-9]{5}[\s-]?[A-Za-z0-9]{5}\s*$")


def generate() -> str:
    """A fresh code, uniformly among those with at least one digit (about 1 in 20 random
    strings has none and is drawn again)."""
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if any(c.isdigit() for c in code):
            return code


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise(text: str) -> str | None:
    """The code a child typed, or None when the text is not shaped like a code."""
    if not _LOOKS_LIKE_CODE.match(text):
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    return code if all(c in ALPHABET for c in code) else None


def looks_like_code(text: str) -> bool:
    """Shaped like a code (even with a look-alike character typed): worth an answer about
    codes rather than the NLU."""
    if not _LOOKS_LIKE_CODE.match(text):
        return False
    compact = re.sub(r"[\s-]", "", text)
    # Ordinary words ("hjaelpmigs") are letters only and lower case; codes mix in digits.
    return any(c.isdigit() for c in compact) or compact.isupper()


def digest(code: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256): a leaked database does not give the codes back."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()
