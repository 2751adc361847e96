"""Load and validate the content folder into one immutable ``ContentStore``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.content.schema import (
    APPROVAL_FIELDS,
    Approval,
    ContentSettings,
    EmailTemplates,
    Helplines,
    Municipalities,
    Topic,
    UiTexts,
)

M = TypeVar("M", bound=BaseModel)
#: libyaml's safe loader when PyYAML has it (the folder is read again on every change)
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: documents that are one file at the top of the content folder (not topics)
FILE_DOCUMENTS = ("helplines", "municipalities", "ui")
EMAIL_DOCUMENT = "email"
EMAIL_FOLDER = "email"
EMAIL_APPROVAL_FILE = "approval.yml"


class ContentError(Exception):
    """One problem in one content file, in Danish, with a line number where we know it."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class ContentErrors(ContentError):
    """Several problems in one file; behaves as the first of them."""

    def __init__(self, problems: list[ContentError]) -> None:
        first = problems[0]
        super().__init__(first.path, first.message, first.line)
        self.problems = problems


@dataclass(frozen=True)
class ContentStore:
    """Everything a child can be shown, validated. Read-only after load."""

    root: Path
    settings: ContentSettings
    topics: dict[str, Topic]
    helplines: Helplines
    municipalities: Municipalities
    ui: UiTexts
    files: dict[str, Path] = field(default_factory=dict)
    #: the e-mail templates for caseworkers; None when the folder has no ``email/``
    email: EmailTemplates | None = None

    def documents(self) -> Iterator[tuple[str, Approval]]:
        """Every approvable document, keyed by its id (topic id, or the file's name)."""
        yield from self.topics.items()
        yield "helplines", self.helplines
        yield "municipalities", self.municipalities
        yield "ui", self.ui
        if self.email is not None:
            yield EMAIL_DOCUMENT, self.email

    def path_of(self, doc_id: str) -> Path:
        return self.files.get(doc_id) or document_path(self.root, doc_id)

    def text(self, key: str) -> str:
        try:
            return self.ui.texts[key]
        except KeyError:
            raise KeyError(f"UI text {key!r} is missing from content/ui.yml") from None


def document_path(root: Path, doc_id: str) -> Path:
    """Where the document ``doc_id`` lives: a topic id, helplines/municipalities/ui, email."""
    if doc_id == EMAIL_DOCUMENT:
        return root / EMAIL_FOLDER / EMAIL_APPROVAL_FILE
    if doc_id in FILE_DOCUMENTS:
        return root / f"{doc_id}.yml"
    return root / "topics" / f"{doc_id}.yml"


def document_id(path: Path) -> str:
    """The id of the document stored in ``path`` (the inverse of ``document_path``)."""
    if path.parent.name == EMAIL_FOLDER:
        return EMAIL_DOCUMENT
    return path.stem


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ContentError(path, f"YAML-fejl: {exc.problem}", line) from exc
    except yaml.YAMLError as exc:
        raise ContentError(path, f"YAML-fejl: {exc}", 1) from exc
    except UnicodeDecodeError as exc:
        raise ContentError(path, "filen er ikke gemt som UTF-8", 1) from exc
    except OSError as exc:
        raise ContentError(path, f"kan ikke læse filen: {exc.strerror}") from exc


def _key_line(path: Path, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of a pydantic error location in a YAML file."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                # A missing or unknown field: point at the key itself if it is there.
                key = next((k for k, _ in node.value if k.value == part), None)
                if key is not None:
                    line = key.start_mark.line + 1
                break
            line, node = match.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


#: pydantic's error types, in Danish (``{name}`` is filled in from the error's context)
_DANISH: dict[str, str] = {
    "missing": "feltet mangler",
    "extra_forbidden": "ukendt felt (er navnet stavet rigtigt?)",
    "string_type": "skal være en tekst",
    "string_too_short": "må ikke være tom",
    "string_too_long": "er for lang (højst {max_length} tegn)",
    "string_pattern_mismatch": "har ikke den rigtige form",
    "too_short": "skal have mindst {min_length}",
    "too_long": "må højst have {max_length}",
    "literal_error": "skal være en af: {expected}",
    "int_type": "skal være et helt tal",
    "int_parsing": "skal være et helt tal",
    "int_from_float": "skal være et helt tal",
    "float_type": "skal være et tal",
    "float_parsing": "skal være et tal",
    "bool_type": "skal være true eller false",
    "bool_parsing": "skal være true eller false",
    "greater_than_equal": "skal være mindst {ge}",
    "less_than_equal": "må højst være {le}",
    "list_type": "skal være en liste (én linje pr. punkt, der starter med -)",
    "dict_type": "skal være felter (navn: værdi)",
    "model_type": "skal være felter (navn: værdi)",
    "model_attributes_type": "skal være felter (navn: værdi)",
    "datetime_type": "skal være et tidspunkt, fx 2026-11-23T10:13:06+00:00",
    "datetime_parsing": "skal være et tidspunkt, fx 2026-11-23T10:13:06+00:00",
    "datetime_from_date_parsing": "skal være et tidspunkt, fx 2026-11-23T10:13:06+00:00",
}


def danish_message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    template = _DANISH.get(kind)
    if template is None:
        return str(error["msg"])
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return template


def validation_problems(path: Path, exc: ValidationError) -> list[ContentError]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field_name = ".".join(str(p) for p in loc) or "(filen)"
        line = _key_line(path, loc) or 1
        out.append(ContentError(path, f"{field_name}: {danish_message(err)}", line))
    return out


def _validate(path: Path, model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise ContentError(path, "filen skal indeholde felter (navn: værdi)", 1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContentErrors(validation_problems(path, exc)) from exc


def parse(path: Path, model: type[M]) -> M:
    return _validate(path, model, _read_yaml(path))


def parse_email(folder: Path) -> EmailTemplates:
    """The e-mail templates in ``folder`` with the approval fields from ``approval.yml``."""
    approval_path = folder / EMAIL_APPROVAL_FILE
    data: Any = _read_yaml(approval_path) if approval_path.exists() else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContentError(approval_path, "filen skal indeholde felter (navn: værdi)", 1)
    unknown = sorted(set(data) - APPROVAL_FIELDS)
    if unknown:
        line = _key_line(approval_path, (unknown[0],)) or 1
        raise ContentError(
            approval_path,
            f"{unknown[0]}: ukendt felt; her står kun version, approved_by, approved_at og "
            "approved_hash",
            line,
        )
    templates: dict[str, str] = {}
    for template in sorted(folder.glob("*.j2")):
        try:
            templates[template.name] = template.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ContentError(template, "filen er ikke gemt som UTF-8", 1) from exc
    return _validate(approval_path, EmailTemplates, {**data, "templates": templates})


DOCUMENT_MODELS: dict[str, type[Approval]] = {
    "helplines.yml": Helplines,
    "municipalities.yml": Municipalities,
    "ui.yml": UiTexts,
}


def parse_document(path: Path) -> Approval:
    """Any approvable content file: a topic, helplines, municipalities, UI texts or e-mail."""
    if path.name == EMAIL_APPROVAL_FILE and path.parent.name == EMAIL_FOLDER:
        return parse_email(path.parent)
    return parse(path, DOCUMENT_MODELS.get(path.name, Topic))


def _each(exc: ContentError) -> list[ContentError]:
    return exc.problems if isinstance(exc, ContentErrors) else [exc]


def _parse_folder(root: Path) -> tuple[ContentStore | None, list[ContentError]]:
    """Read every file once: the store (None if any file has a problem) and every problem."""
    problems: list[ContentError] = []
    if not root.is_dir():
        return None, [ContentError(root, "mappen med indhold findes ikke")]

    def attempt(path: Path, model: type[M]) -> M | None:
        try:
            return parse(path, model)
        except ContentError as exc:
            problems.extend(_each(exc))
            return None

    settings = attempt(root / "settings.yml", ContentSettings)
    helplines = attempt(root / "helplines.yml", Helplines)
    municipalities = attempt(root / "municipalities.yml", Municipalities)
    ui = attempt(root / "ui.yml", UiTexts)
    email = None
    if (root / EMAIL_FOLDER).is_dir():
        try:
            email = parse_email(root / EMAIL_FOLDER)
        except ContentError as exc:
            problems.extend(_each(exc))
    topics: dict[str, Topic] = {}
    files: dict[str, Path] = {}
    seen: dict[str, Path] = {}
    for path in sorted((root / "topics").glob("*.yml")):
        topic = attempt(path, Topic)
        if topic is None:
            continue
        if topic.id != path.stem:
            line = _key_line(path, ("id",)) or 1
            problems.append(
                ContentError(path, f"id {topic.id!r} skal være det samme som filnavnet", line)
            )
        if topic.id in seen:
            line = _key_line(path, ("id",)) or 1
            problems.append(
                ContentError(path, f"id {topic.id!r} findes også i {seen[topic.id]}", line)
            )
        seen[topic.id] = path
        topics[path.stem] = topic
        files[path.stem] = path
    if problems or settings is None or helplines is None or municipalities is None or ui is None:
        return None, problems
    store = ContentStore(
        root=root,
        settings=settings,
        topics=topics,
        helplines=helplines,
        municipalities=municipalities,
        ui=ui,
        files=files,
        email=email,
    )
    return store, problems


def iter_problems(root: Path) -> Iterator[ContentError]:
    """Parse every file and yield each problem instead of stopping at the first."""
    yield from _parse_folder(root)[1]


def load(root: Path) -> ContentStore:
    """Load the content folder, reading each file once; raises the first ContentError found."""
    store, problems = _parse_folder(root)
    if problems:
        raise problems[0]
    assert store is not None
    return store
