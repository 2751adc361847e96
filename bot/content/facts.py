"""The fact base the content rests on: ``shared/reference/barnets-lov-facts.md``.

Each fact is a table row ``| ID | Fact | Age | § | Status | Source |``. ``content check``
uses it to find fact ids that do not exist and sources that claim more certainty than the
fact base gives (a fact marked UNVERIFIED cited by a source marked ``verified``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FACTS_FILE_ENV = "BARNEBOT_FACTS_FILE"
RELATIVE_LOCATION = Path("shared") / "reference" / "barnets-lov-facts.md"
FACT_ID = re.compile(r"^[A-Z]{1,4}-\d+[a-z]?$")
_ROW = re.compile(r"^\|\s*([A-Z]{1,4}-\d+[a-z]?)\s*\|")

Level = Literal["unverified", "partly_verified", "verified", "unknown"]
#: how sure a status is; a source may not be surer than the facts it cites
RANK: dict[str, int] = {"unverified": 0, "partly_verified": 1, "verified": 2}


@dataclass(frozen=True)
class Fact:
    id: str
    status: str
    level: Level


@dataclass(frozen=True)
class FactBase:
    path: Path
    facts: dict[str, Fact]


def level_of(status: str) -> Level:
    """The leading verdict of a status cell ("VERIFIED (content); § PARTLY …" → verified)."""
    text = status.strip().strip('"').lower()
    if text.startswith(("unverified", "nothing found", "outdated")):
        return "unverified"
    if text.startswith("partly"):
        return "partly_verified"
    if text.startswith("verified"):
        return "verified"
    return "unknown"


def parse_facts(path: Path) -> FactBase:
    facts: dict[str, Fact] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        status = cells[4] if len(cells) > 4 else ""
        facts[match.group(1)] = Fact(match.group(1), status, level_of(status))
    return FactBase(path, facts)


def find_facts(content_root: Path) -> Path | None:
    """``$BARNEBOT_FACTS_FILE``, else ``shared/reference/…`` next to the checkout or above it."""
    configured = os.environ.get(FACTS_FILE_ENV)
    if configured:
        return Path(configured)
    root = content_root.resolve()
    for base in (root.parent, root.parent.parent):
        candidate = base / RELATIVE_LOCATION
        if candidate.is_file():
            return candidate
    return None
