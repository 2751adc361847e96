"""Office hours: written by staff as ``man-tor 9-15; fre 9-12``, shown to a child in Danish
with Babel ("mandag–torsdag kl. 9.00–15.00"; the words around the times are in ui.yml)."""

from __future__ import annotations

import re
from datetime import time

from babel.dates import format_time, get_day_names

LOCALE = "da_DK"
_DAYS = {
    "man": 0,
    "tir": 1,
    "ons": 2,
    "tor": 3,
    "fre": 4,
    "lor": 5,
    "lør": 5,
    "son": 6,
    "søn": 6,
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_PART = re.compile(
    r"^\s*(?P<d1>\w{3})\w*\s*(?:-\s*(?P<d2>\w{3})\w*)?\s+"
    r"(?P<h1>\d{1,2})(?:[.:](?P<m1>\d{2}))?\s*-\s*(?P<h2>\d{1,2})(?:[.:](?P<m2>\d{2}))?\s*$"
)


class OfficeHoursError(ValueError):
    pass


def parse(spec: str) -> list[tuple[int, int, time, time]]:
    """``"man-tor 9-15; fre 9:00-12:00"`` → [(0, 3, 09:00, 15:00), (4, 4, 09:00, 12:00)]."""
    parts = []
    for chunk in filter(None, (c.strip() for c in spec.split(";"))):
        match = _PART.match(chunk.lower())
        if not match:
            raise OfficeHoursError(f"cannot read office hours part: {chunk!r}")
        first = _DAYS.get(match["d1"])
        last = _DAYS.get(match["d2"] or match["d1"])
        if first is None or last is None:
            raise OfficeHoursError(f"unknown weekday in: {chunk!r}")
        start = time(int(match["h1"]), int(match["m1"] or 0))
        end = time(int(match["h2"]), int(match["m2"] or 0))
        parts.append((first, last, start, end))
    return parts


def format_hours(spec: str) -> list[dict[str, str]]:
    """Day names and times in Danish (Babel); the sentence around them is content (ui.yml)."""
    names = get_day_names("wide", locale=LOCALE)
    rows = []
    for first, last, start, end in parse(spec):
        rows.append(
            {
                "first_day": names[first],
                "last_day": names[last] if last != first else "",
                "start": format_time(start, "H.mm", locale=LOCALE),
                "end": format_time(end, "H.mm", locale=LOCALE),
            }
        )
    return rows
