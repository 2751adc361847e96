"""Approve a content document: record who, when, the next version and the content's hash.

The approval fields are rewritten in place as plain top-level lines, so the editor's own
layout and comments in the rest of the file stay exactly as they wrote them. Every approval
adds one line to ``CHANGELOG.md`` in the content folder (time, id, version, approver, hash):
the history of versions, next to the texts themselves in git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.content.loader import parse_document

_FIELD_LINE = re.compile(r"^(version|approved_by|approved_at|approved_hash):.*\n?", re.M)
CHANGELOG = "CHANGELOG.md"
CHANGELOG_HEADER = """\
# Historik over godkendelser

Hver linje er én godkendelse. `barnebot content approve` skriver linjen selv, så ret ikke i
den. Tidspunktet er i UTC (dansk vintertid er én time mere, sommertid to timer mere).
Kontrolsummen er starten af den `approved_hash`, der står i filen. Den samme kontrolsum står
i botten, ved hvert svar et barn har fået.

Se hvad der er ændret i teksterne: `barnebot content diff`.

| Tidspunkt (UTC) | Id | Version | Godkendt af | Kontrolsum |
| --- | --- | --- | --- | --- |
"""


@dataclass(frozen=True)
class Approved:
    doc_id: str
    version: int
    digest: str
    by: str
    at: datetime
    changed: bool  # False: the same content approved again (the version stays)


def approve(path: Path, by: str, now: datetime | None = None) -> tuple[int, str]:
    """Mark the document in ``path`` approved; returns (new version, hash)."""
    approved = _approve(path, by, now)
    return approved.version, approved.digest


def _approve(path: Path, by: str, now: datetime | None) -> Approved:
    document = parse_document(path)  # refuses invalid content: only valid text is approved
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    digest = document.content_hash()
    version = document.version
    changed = document.approved_hash != digest
    if changed:
        version += 1
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    header = (
        f"version: {version}\n"
        f"approved_by: {yaml.safe_dump(by, allow_unicode=True).splitlines()[0]}\n"
        f"approved_at: {when.isoformat()}\n"
        f"approved_hash: {digest}\n"
    )
    body = _FIELD_LINE.sub("", text)
    # Keep a leading comment block on top, then the approval block.
    lines = body.splitlines(keepends=True)
    split = 0
    while split < len(lines) and lines[split].startswith("#"):
        split += 1
    path.write_text("".join(lines[:split]) + header + "".join(lines[split:]), encoding="utf-8")
    return Approved(path.stem, version, digest, by, when, changed)


def changelog_line(doc_id: str, version: int, by: str, at: datetime, digest: str) -> str:
    by_cell = " ".join(by.split()).replace("|", "/")
    short = digest.removeprefix("sha256:")[:12]
    return f"| {at.astimezone(UTC):%Y-%m-%d %H:%M} | {doc_id} | {version} | {by_cell} | {short} |\n"


def record(root: Path, approved: Approved) -> None:
    """Add one line for this approval to ``CHANGELOG.md`` (created with its header)."""
    path = root / CHANGELOG
    line = changelog_line(
        approved.doc_id, approved.version, approved.by, approved.at, approved.digest
    )
    if not path.exists():
        path.write_text(CHANGELOG_HEADER, encoding="utf-8")
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def approve_document(
    root: Path, doc_id: str, path: Path, by: str, now: datetime | None = None
) -> Approved:
    """Approve one document of the folder ``root`` and write it into the history."""
    approved = _approve(path, by, now)
    approved = Approved(
        doc_id, approved.version, approved.digest, by, approved.at, approved.changed
    )
    record(root, approved)
    return approved
