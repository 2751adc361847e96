"""Text folding for matching the way children type: case, æøå written as ae/oe/aa or a/o."""

from __future__ import annotations

import re
import unicodedata

_FOLDS = (("æ", "ae"), ("ø", "o"), ("å", "a"), ("ö", "o"), ("ä", "ae"), ("oe", "o"), ("aa", "a"))
_SPACE = re.compile(r"\s+")
_REPEAT = re.compile(r"(.)\1{2,}")
MAX_NLU_CHARS = 1000


def fold(text: str) -> str:
    """Lower-case, æøå folded, accents dropped, letters repeated 3+ times cut to 2, one space.

    ``fold("Børnetelefonen")``, ``fold("boernetelefonen")`` and ``fold("bornetelefonen")``
    are all ``"bornetelefonen"``.
    """
    text = text.lower()
    for src, dst in _FOLDS:
        text = text.replace(src, dst)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACE.sub(" ", text).strip()


def clip(text: str) -> str:
    """Keep a very long message to a size the classifier handles well.

    Children often tell a long story and ask at the end, so the end weighs more than the start.
    """
    if len(text) <= MAX_NLU_CHARS:
        return text
    head = MAX_NLU_CHARS * 3 // 10
    return text[:head] + " … " + text[-(MAX_NLU_CHARS - head) :]
