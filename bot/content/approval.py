"""Approve a content document: record who, when, the next version and the content's hash.

The approval fields are rewritten in place as plain top-level lines, so the editor's own
layout and comments in the rest of the file stay exactly as they wrote them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bot.content.loader import parse_document

_FIELD_LINE = re.compile(r"^(version|approved_by|approved_at|approved_hash):.*\n?", re.M)


def approve(path: Path, by: str, now: datetime | None = None) -> tuple[int, str]:
    """Mark the document in ``path`` approved; returns (new version, hash)."""
    text = path.read_text(encoding="utf-8")
    document = parse_document(path)  # refuses invalid content: only valid text is approved
    digest = document.content_hash()
    version = document.version
    if document.approved_hash != digest:
        version += 1
    stamp = (now or datetime.now(UTC)).replace(microsecond=0).isoformat()
    header = (
        f"version: {version}\n"
        f"approved_by: {yaml.safe_dump(by, allow_unicode=True).splitlines()[0]}\n"
        f"approved_at: {stamp}\n"
        f"approved_hash: {digest}\n"
    )
    body = _FIELD_LINE.sub("", text)
    # Keep a leading comment block on top, then the approval block.
    lines = body.splitlines(keepends=True)
    split = 0
    while split < len(lines) and lines[split].startswith("#"):
        split += 1
    path.write_text("".join(lines[:split]) + header + "".join(lines[split:]), encoding="utf-8")
    return version, digest
