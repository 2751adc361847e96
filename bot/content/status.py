"""``barnebot content status``: every document and where it stands (draft, approved, changed).

Each file is read on its own, so one broken file does not hide the state of the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from bot.content.loader import (
    EMAIL_DOCUMENT,
    EMAIL_FOLDER,
    FILE_DOCUMENTS,
    ContentError,
    document_path,
    parse_document,
)

State = Literal["approved", "draft", "changed", "invalid"]
#: how each state reads to an editor
STATE_WORDS: dict[State, str] = {
    "approved": "godkendt",
    "draft": "kladde (aldrig godkendt)",
    "changed": "ændret efter godkendelse",
    "invalid": "fejl i filen",
}


@dataclass(frozen=True)
class DocumentStatus:
    doc_id: str
    path: Path
    state: State
    version: int | None
    approved_by: str | None
    approved_at: datetime | None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.doc_id,
            "file": str(self.path),
            "state": self.state,
            "version": self.version,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat() if self.approved_at else None,
            "problem": self.problem,
        }


def document_ids(root: Path) -> list[str]:
    """Every approvable document in ``root``: topics (by file name), then the other files."""
    ids = [p.stem for p in sorted((root / "topics").glob("*.yml"))]
    ids += [d for d in FILE_DOCUMENTS if document_path(root, d).exists()]
    if (root / EMAIL_FOLDER).is_dir():
        ids.append(EMAIL_DOCUMENT)
    return ids


def document_status(root: Path, doc_id: str) -> DocumentStatus:
    path = document_path(root, doc_id)
    try:
        doc = parse_document(path)
    except ContentError as exc:
        where = f"linje {exc.line}: " if exc.line else ""
        return DocumentStatus(doc_id, exc.path, "invalid", None, None, None, where + exc.message)
    state: State
    if doc.approved_hash is None:
        state = "draft"
    elif doc.is_approved:
        state = "approved"
    else:
        state = "changed"
    return DocumentStatus(doc_id, path, state, doc.version, doc.approved_by, doc.approved_at)


def status(root: Path) -> list[DocumentStatus]:
    return [document_status(root, doc_id) for doc_id in document_ids(root)]
