"""LIX, as SPEC.md defines it: words/sentences + 100 × long words (more than 6 letters)/words.

Written here rather than taken from a library: textstat's LIX drops sentences of two words or
fewer and needs nltk, while our texts are short chat messages where those sentences count.
Only the counting rules are ours; the formula is Björnsson's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.S)
_JINJA_STMT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
_URL = re.compile(r"https?://\S+|\b[\w.-]+\.(?:dk|com|org|net)\b\S*")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?:;]+(?=\s|$)|\n+")
LONG_WORD = 6


@dataclass(frozen=True)
class Lix:
    score: float
    words: int
    sentences: int
    long_words: int
    longest_sentence: str


def plain(text: str) -> str:
    """Text as a reader sees it for counting: template tags become one short word, links go."""
    text = _JINJA_STMT.sub("", text)
    text = _JINJA_EXPR.sub("X", text)
    return _URL.sub("", text)


def sentences(text: str) -> list[str]:
    parts = (p.strip(" \t-•*") for p in _SENTENCE_END.split(plain(text)))
    return [p for p in parts if _WORD.search(p)]


def lix(text: str) -> Lix:
    sents = sentences(text)
    words = [w for s in sents for w in _WORD.findall(s)]
    if not words:
        return Lix(0.0, 0, 0, 0, "")
    long_words = sum(1 for w in words if len(w.replace("-", "")) > LONG_WORD)
    score = len(words) / len(sents) + 100 * long_words / len(words)
    longest = max(sents, key=lambda s: len(_WORD.findall(s)))
    return Lix(round(score, 1), len(words), len(sents), long_words, longest)
