"""``barnebot content diff [REV]``: what changed in the content since a git revision, in words.

The old version of each file comes from ``git show REV:path``; the new one is the file on
disk (saved, not necessarily committed). Each document is described as an editor reads it:
which answer changed and how (lines removed and added, the words that differ), sources,
buttons, version and approval.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from bot.content.loader import DOCUMENT_MODELS, EMAIL_FOLDER, ContentError, parse_email
from bot.content.schema import Topic

APPROVAL_KEYS = ("version", "approved_by", "approved_at", "approved_hash")
TOPIC_TEXTS = ("answer", "more")
_TOP_FILES = ("helplines.yml", "municipalities.yml", "ui.yml", "settings.yml")


class DiffError(Exception):
    """Why there is nothing to compare with, in Danish."""


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False, timeout=60)


def _relevant(rel: str) -> bool:
    path = PurePosixPath(rel)
    if len(path.parts) == 1:
        return rel in _TOP_FILES
    if len(path.parts) == 2 and path.parts[0] == "topics":
        return path.suffix == ".yml"
    if len(path.parts) == 2 and path.parts[0] == "email":
        return path.suffix == ".j2" or path.name == "approval.yml"
    return False


def _on_disk(root: Path) -> dict[str, Path]:
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            rel = path.relative_to(root).as_posix()
            if _relevant(rel):
                files[rel] = path
    return files


class Revision:
    """The content folder as it was at a git revision."""

    def __init__(self, root: Path, rev: str) -> None:
        if shutil.which("git") is None:
            raise DiffError("Programmet git er ikke installeret, så der er ingen historik.")
        if not root.is_dir():
            raise DiffError(f"Mappen {root} findes ikke.")
        top = _git(root, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise DiffError(
                f"Mappen {root} er ikke en del af et git-arkiv, så der er ingen tidligere "
                "version at sammenligne med. Brug en mappe, der er hentet med git clone."
            )
        toplevel = Path(top.stdout.decode().strip()).resolve()
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        if commit.returncode != 0:
            raise DiffError(
                f"Versionen {rev!r} findes ikke i git. Prøv fx HEAD (det seneste commit), "
                "HEAD~1 (det før) eller et commit-id fra git log."
            )
        self.root = root
        self.rev = rev
        self.commit = commit.stdout.decode().strip()
        self.prefix = root.resolve().relative_to(toplevel).as_posix()
        listing = _git(root, "ls-tree", "-r", "--name-only", "--full-tree", self.commit)
        self.files: dict[str, str] = {}
        start = "" if self.prefix == "." else self.prefix + "/"
        for full in listing.stdout.decode("utf-8", "replace").splitlines():
            if full.startswith(start):
                rel = full[len(start) :]
                if _relevant(rel):
                    self.files[rel] = full

    def describe(self) -> str:
        shown = _git(self.root, "show", "-s", "--format=%h %cs %s", self.commit)
        return shown.stdout.decode("utf-8", "replace").strip()

    def read(self, rel: str) -> str | None:
        full = self.files.get(rel)
        if full is None:
            return None
        shown = _git(self.root, "show", f"{self.commit}:{full}")
        return shown.stdout.decode("utf-8", "replace") if shown.returncode == 0 else None


# -- wording ------------------------------------------------------------------------------
def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%d.%m.%Y kl. %H.%M} (UTC)"
    return str(value)


def _quote(value: Any) -> str:
    if value is None or value == "":
        return "(tom)"
    text = " ".join(str(value).split())
    return f"«{text[:120]}…»" if len(text) > 120 else f"«{text}»"


def word_changes(old: str, new: str) -> str:
    """The words that differ between two versions of a line."""
    a, b = old.split(), new.split()
    parts = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if tag == "replace":
            parts.append(f"«{' '.join(a[i1:i2])}» → «{' '.join(b[j1:j2])}»")
        elif tag == "delete":
            parts.append(f"fjernet «{' '.join(a[i1:i2])}»")
        elif tag == "insert":
            parts.append(f"tilføjet «{' '.join(b[j1:j2])}»")
    return ", ".join(parts)


def text_changes(old: str | None, new: str | None, indent: str = "    ") -> list[str]:
    """Removed (-) and added (+) lines of a text, with the changed words of a changed line."""
    a = (old or "").strip("\n").splitlines()
    b = (new or "").strip("\n").splitlines()
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
        if tag == "equal":
            continue
        for line in a[i1:i2]:
            out.append(f"{indent}- {line}")
        for line in b[j1:j2]:
            out.append(f"{indent}+ {line}")
        if tag == "replace" and i2 - i1 == j2 - j1:
            for old_line, new_line in zip(a[i1:i2], b[j1:j2], strict=True):
                words = word_changes(old_line, new_line)
                if words:
                    out.append(f"{indent}  (ord: {words})")
    return out


def _age_label(variant: dict[str, Any]) -> str:
    low, high = variant.get("min_age"), variant.get("max_age")
    if low is not None and high is not None:
        return f"svaret for {low}–{high} år"
    if low is not None:
        return f"svaret for {low} år og op"
    if high is not None:
        return f"svaret til og med {high} år"
    return "svaret for alle aldre"


def _source_label(source: dict[str, Any]) -> str:
    return f"{source.get('law', 'Barnets lov')} {source.get('paragraph', '')}".strip()


def _approval(
    old: dict[str, Any] | None, new: dict[str, Any], approved: bool | None, topic: bool
) -> list[str]:
    """Version and approval; ``approved``: whether the new file's hash matches (None: unknown)."""
    out = []
    old_version = (old or {}).get("version", 0)
    new_version = new.get("version", 0)
    if new_version != old_version:
        by = new.get("approved_by") or "?"
        out.append(
            f"  version {old_version} → {new_version}, godkendt af {by} "
            f"den {_when(new.get('approved_at'))}"
        )
    elif old is not None and new.get("approved_at") != old.get("approved_at"):
        out.append(
            f"  godkendt igen uden ændringer af {new.get('approved_by')} "
            f"den {_when(new.get('approved_at'))}"
        )
    out.extend(_unapproved(new, approved, topic))
    return out


def _unapproved(new: dict[str, Any], approved: bool | None, topic: bool) -> list[str]:
    if approved is not False:
        return []
    if topic:
        effect = "Børn får et holdesvar med hjælpelinjerne i stedet, til emnet er godkendt"
    else:
        effect = "En kørende barnebot bruger den gamle version, til ændringen er godkendt"
    if new.get("approved_hash") is None:
        return [f"  OBS: er ikke godkendt (kladde). {effect}"]
    return [f"  OBS: ændringerne er ikke godkendt endnu. {effect}"]


def approval_state(rel: str, data: dict[str, Any] | None) -> bool | None:
    """Whether a document's approval matches its content (None: cannot tell, or no approval)."""
    name = PurePosixPath(rel).name
    if data is None or name == "settings.yml" or rel.startswith("email/"):
        return None
    model = DOCUMENT_MODELS.get(name, Topic)
    try:
        return model.model_validate(data).is_approved
    except ValidationError:
        return None


def _body(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in APPROVAL_KEYS}


def _topic_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key, word in (("title", "titlen (knappens tekst)"), ("kind", "slags emne")):
        if old.get(key) != new.get(key):
            out.append(f"  {word} er ændret: {_quote(old.get(key))} → {_quote(new.get(key))}")
    if old.get("answer") != new.get("answer"):
        out.append("  svaret er ændret:")
        out.extend(text_changes(old.get("answer"), new.get("answer")))
    old_variants = old.get("variants") or []
    new_variants = new.get("variants") or []
    for i in range(max(len(old_variants), len(new_variants))):
        before = old_variants[i] if i < len(old_variants) else None
        after = new_variants[i] if i < len(new_variants) else None
        if before == after:
            continue
        if before is None and after is not None:
            out.append(f"  nyt svar efter alder: {_age_label(after)}:")
            out.extend(text_changes(None, after.get("answer")))
        elif after is None and before is not None:
            out.append(f"  svar efter alder fjernet: {_age_label(before)}")
        elif before is not None and after is not None:
            if _age_label(before) != _age_label(after):
                out.append(f"  aldersgrænsen er ændret: {_age_label(before)} → {_age_label(after)}")
            if before.get("answer") != after.get("answer"):
                out.append(f"  {_age_label(after)} er ændret:")
                out.extend(text_changes(before.get("answer"), after.get("answer")))
    if old.get("more") != new.get("more"):
        out.append("  'Læs mere'-teksten er ændret:")
        out.extend(text_changes(old.get("more"), new.get("more")))
    out.extend(_source_changes(old.get("sources") or [], new.get("sources") or []))
    if old.get("buttons") != new.get("buttons"):
        before = ", ".join(old.get("buttons") or []) or "(ingen)"
        after = ", ".join(new.get("buttons") or []) or "(ingen)"
        out.append(f"  knapperne er ændret: {before} → {after}")
    if old.get("editor_notes") != new.get("editor_notes"):
        out.append("  redaktørens noter er ændret (vises ikke for børn)")
    return out


def _source_changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    out = []
    before = {(s.get("url"), s.get("paragraph")): s for s in old}
    after = {(s.get("url"), s.get("paragraph")): s for s in new}
    for key, source in after.items():
        if key not in before:
            out.append(f"  ny kilde: {_source_label(source)} ({source.get('url')})")
    for key, source in before.items():
        if key not in after:
            out.append(f"  kilde fjernet: {_source_label(source)} ({source.get('url')})")
    for key, source in after.items():
        previous = before.get(key)
        if previous is None or previous == source:
            continue
        label = _source_label(source)
        for field in ("law", "status", "facts", "note"):
            if previous.get(field) != source.get(field):
                out.append(
                    f"  kilden {label}: {field} {_quote(previous.get(field))} → "
                    f"{_quote(source.get(field))}"
                )
    return out


def _mapping_changes(
    old: dict[str, Any], new: dict[str, Any], what: str, label: str = ""
) -> list[str]:
    out = []
    for key in new:
        if key not in old:
            out.append(f"  ny {what} {key!r}:")
            out.extend(text_changes(None, str(new[key])))
    for key in old:
        if key not in new:
            out.append(f"  {what} {key!r} er fjernet")
    for key in new:
        if key in old and old[key] != new[key]:
            if isinstance(new[key], str) and isinstance(old[key], str):
                out.append(f"  {what} {key!r} er ændret:")
                out.extend(text_changes(old[key], new[key]))
            else:
                out.append(f"  {label}{key}: {_quote(old[key])} → {_quote(new[key])}")
    return out


def _rows_by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(row.get(key)): row for row in rows if isinstance(row, dict)}


def _list_changes(
    old: list[dict[str, Any]], new: list[dict[str, Any]], key: str, what: str
) -> list[str]:
    out = []
    before, after = _rows_by(old, key), _rows_by(new, key)
    for ident, row in after.items():
        name = row.get("name", ident)
        if ident not in before:
            out.append(f"  ny {what}: {name}")
            continue
        for field, value in row.items():
            if before[ident].get(field) != value:
                out.append(
                    f"  {name}: {field} {_quote(before[ident].get(field))} → {_quote(value)}"
                )
    for ident, row in before.items():
        if ident not in after:
            out.append(f"  {what} fjernet: {row.get('name', ident)}")
    return out


def _load(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _title(rel: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    path = PurePosixPath(rel)
    if path.parts[0] == "topics":
        title = (new or old or {}).get("title") or path.stem
        return f"Emnet {title!r} ({path.stem})"
    if path.parts[0] == "email":
        if path.name == "approval.yml":
            return "E-mail-skabelonerne (godkendelse)"
        return f"E-mail-skabelonen {path.name!r}"
    return {
        "helplines.yml": "Hjælpelinjerne (helplines.yml)",
        "municipalities.yml": "Kommunerne (municipalities.yml)",
        "ui.yml": "Teksterne i brugerfladen (ui.yml)",
        "settings.yml": "Indstillingerne (settings.yml)",
    }.get(rel, rel)


def describe(
    rel: str, old_text: str | None, new_text: str | None, approved: bool | None = None
) -> list[str]:
    """The lines that tell an editor what changed in one file (empty: nothing changed).

    ``approved``: whether the new version's approval matches it; None works it out for
    topics and the top-level files (the e-mail templates' caller knows it).
    """
    if old_text == new_text:
        return []
    old, new = _load(old_text), _load(new_text)
    if approved is None:
        approved = approval_state(rel, new)
    title = _title(rel, old, new)
    if old_text is None:
        lines = [f"{title}: er ny."]
        if new is not None and isinstance(new.get("answer"), str):
            lines.append("  svaret:")
            lines.extend(text_changes(None, new["answer"]))
        elif rel.endswith(".j2"):
            lines.extend(text_changes(None, new_text))
        if new is not None:
            if new.get("approved_hash") is not None:
                lines.append(
                    f"  version {new.get('version')}, godkendt af {new.get('approved_by')} "
                    f"den {_when(new.get('approved_at'))}"
                )
            lines.extend(_unapproved(new, approved, rel.startswith("topics/")))
        return lines
    if new_text is None:
        return [f"{title}: er slettet."]
    if rel.endswith(".j2"):
        lines = [f"{title}: teksten er ændret:", *text_changes(old_text, new_text)]
        if approved is False:
            lines.append(
                "  OBS: e-mail-skabelonerne er ikke godkendt efter ændringen "
                "(barnebot content approve email --by NAVN)"
            )
        return lines
    if old is None or new is None:
        return [
            f"{title}: filen kan ikke læses (YAML-fejl). Ændringerne linje for linje:",
            *text_changes(old_text, new_text),
        ]
    name = PurePosixPath(rel).name
    body: list[str]
    if rel.startswith("topics/"):
        body = _topic_changes(old, new)
    elif name == "ui.yml":
        body = _mapping_changes(old.get("texts") or {}, new.get("texts") or {}, "tekst")
    elif name == "helplines.yml":
        body = _list_changes(old.get("helplines") or [], new.get("helplines") or [], "id", "linje")
    elif name == "municipalities.yml":
        body = _list_changes(
            old.get("municipalities") or [], new.get("municipalities") or [], "code", "kommune"
        )
    elif name == "settings.yml":
        body = _mapping_changes(old, new, "indstilling")
    else:  # email/approval.yml: only the approval
        body = []
    topic = rel.startswith("topics/")
    approval = [] if name == "settings.yml" else _approval(old, new, approved, topic)
    if not body and _body(old) == _body(new) and not approval:
        return [f"{title}: kun kommentarer eller opsætning er ændret (ikke noget, børn ser)."]
    return [f"{title}:", *body, *approval]


def changes(root: Path, rev: str = "HEAD") -> Iterator[str]:
    """The report, line by line. Raises DiffError when there is nothing to compare with."""
    revision = Revision(root, rev)
    yield f"Ændringer i {root} siden {rev} ({revision.describe()}):"
    disk = _on_disk(root)
    names = sorted(set(revision.files) | set(disk), key=_order)
    email: bool | None = None
    if (root / EMAIL_FOLDER).is_dir():
        try:
            email = parse_email(root / EMAIL_FOLDER).is_approved
        except ContentError:
            email = None
    found = False
    for rel in names:
        new_text = disk[rel].read_text(encoding="utf-8", errors="replace") if rel in disk else None
        approved = email if rel.startswith("email/") else None
        lines = describe(rel, revision.read(rel), new_text, approved)
        if lines:
            found = True
            yield ""
            yield from lines
    if not found:
        yield "Ingen ændringer."


def _order(rel: str) -> tuple[int, str]:
    return (0 if rel.startswith("topics/") else 1, rel)
