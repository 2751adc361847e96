"""Entity extraction: ``age`` (a number) and ``municipality`` (one of the 98, fuzzy)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.nlu.result import Entity
from bot.nlu.text import fold

MIN_AGE, MAX_AGE = 6, 25
EXTRACTOR = "barnebot"

_NUMBER_WORDS = {
    "seks": 6, "syv": 7, "otte": 8, "ni": 9, "ti": 10, "elleve": 11, "tolv": 12,
    "tretten": 13, "fjorten": 14, "femten": 15, "seksten": 16, "sytten": 17, "atten": 18,
    "nitten": 19, "tyve": 20, "enogtyve": 21, "toogtyve": 22,
}  # fmt: skip
_NUM = r"(?P<n>\d{1,2}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
# "jeg er 11", "jeg er 11 år", "11 år gammel", "11 årig", "11år"; not "for 2 år siden".
_AGE_PATTERNS = (
    re.compile(
        r"\b(?:jeg|jg|ja|eg|i)\s*(?:er|e|r)\s+(?:kun\s+|snart\s+|lige\s+)?"
        + _NUM
        + r"(?!\s*(?:kr|km|min|minutter|timer|dage|uger|mdr|maaneder|%|\.\d|:\d))\b",
        re.I,
    ),
    re.compile(
        r"(?<!\bfor )(?<!\bi )(?<!\bom )(?<!\bhar )(?<!\befter )\b"
        + _NUM
        + r"\s*-?\s*(?:år|aar|ar|årig|aarig|arig)(?:\s+gammel)?\b(?!\s+siden)",
        re.I,
    ),
    re.compile(r"\balder\s*(?:er|:)?\s*" + _NUM + r"\b", re.I),
)


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBER_WORDS.get(token.lower())


def extract_age(text: str) -> Entity | None:
    for pattern in _AGE_PATTERNS:
        for match in pattern.finditer(text):
            value = _number(match.group("n"))
            if value is not None and MIN_AGE <= value <= MAX_AGE:
                return Entity(
                    entity="age",
                    start=match.start("n"),
                    end=match.end("n"),
                    value=value,
                    extractor=EXTRACTOR,
                )
    return None


_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")
_PLACE_BEFORE = frozenset({"i", "fra", "bor", "bo", "boede", "kommune", "pa"})
#: municipality names that are also everyday Danish words once æøå are folded
#: (køge/koge "boil", skive "slice", odder "otter", greve "count", tønder "barrels"…)
ORDINARY_WORD_NAMES = frozenset(
    {"koge", "vejen", "tonder", "skive", "odder", "greve", "lejre", "varde", "sola", "hals"}
)


class MunicipalityMatcher:
    """Finds a municipality in text: exact on folded names and synonyms, fuzzy on typos.

    ``common_words`` are ordinary words from the training data ("skrive", "hjem"): they are
    matched only exactly, so "jeg vil skrive" never becomes Skive. A name that is itself an
    ordinary word once æøå are folded ("koge" for Køge, "vejen") counts only where it reads
    as a place: after "i"/"fra"/"bor", before "kommune", or as the whole message.
    """

    def __init__(
        self,
        names: Iterable[str],
        synonyms: dict[str, str] | None = None,
        common_words: Iterable[str] = (),
    ) -> None:
        self._index: dict[str, str] = {}
        for name in names:
            self._index.setdefault(fold(name), name)
        canonical = {fold(n): n for n in self._index.values() if not n.isascii()}
        for key, name in list(self._index.items()):
            self._index[key] = canonical.get(key, name)
        for variant, name in (synonyms or {}).items():
            target = self._index.get(fold(name), name)
            self._index[fold(variant)] = target
        self._keys = list(self._index)
        words = {fold(w) for w in common_words}
        self._common = words - set(self._index)
        self._ambiguous = (words | ORDINARY_WORD_NAMES) & set(self._index)
        self._max_words = max((k.count(" ") + k.count("-") + 1 for k in self._keys), default=1)

    def _reads_as_place(self, tokens: list[tuple[int, int, str]], i: int, size: int) -> bool:
        key = " ".join(t[2] for t in tokens[i : i + size])
        if key not in self._ambiguous or len(tokens) == size:
            return True
        before = tokens[i - 1][2] if i > 0 else ""
        after = tokens[i + size][2] if i + size < len(tokens) else ""
        return before in _PLACE_BEFORE or after.startswith("kommune")

    def __call__(self, text: str) -> Entity | None:
        tokens = [(m.start(), m.end(), fold(m.group())) for m in _TOKEN.finditer(text)]
        best: tuple[float, int, int, str] | None = None
        for size in range(min(self._max_words, 3), 0, -1):
            for i in range(len(tokens) - size + 1):
                span = tokens[i : i + size]
                key = " ".join(t[2] for t in span)
                start, end = span[0][0], span[-1][1]
                for candidate in (key, key.replace(" ", "-")):
                    if candidate in self._index and self._reads_as_place(tokens, i, size):
                        return Entity(
                            entity="municipality",
                            start=start,
                            end=end,
                            value=self._index[candidate],
                            extractor=EXTRACTOR,
                        )
                if size > 1 or len(key) < 5 or key in self._common or key in self._ambiguous:
                    continue
                max_edits = 1 if len(key) < 9 else 2
                hit = process.extractOne(
                    key, self._keys, scorer=DamerauLevenshtein.distance, score_cutoff=max_edits
                )
                if hit and (best is None or hit[1] < best[0]):
                    best = (hit[1], start, end, self._index[hit[0]])
        if best is None:
            return None
        edits, start, end, value = best
        return Entity(
            entity="municipality",
            start=start,
            end=end,
            value=value,
            extractor=EXTRACTOR,
            confidence_entity=round(1 - edits / max(end - start, 1), 3),
        )
