"""Load and validate the content folder into one immutable ``ContentStore``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from bot.content.schema import (
    Approval,
    ContentSettings,
    Helplines,
    Municipalities,
    Topic,
    UiTexts,
)

M = TypeVar("M", bound=BaseModel)


class ContentError(Exception):
    """One problem in one content file, in Danish, with a line number where we know it."""

    def __init__(self, path: Path, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


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

    def documents(self) -> Iterator[tuple[str, Approval]]:
        """Every approvable document, keyed by its id (topic id, or the file's name)."""
        yield from self.topics.items()
        yield "helplines", self.helplines
        yield "municipalities", self.municipalities
        yield "ui", self.ui

    def text(self, key: str) -> str:
        try:
            return self.ui.texts[key]
        except KeyError:
            raise KeyError(f"UI text {key!r} is missing from content/ui.yml") from None


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ContentError(path, f"YAML-fejl: {exc.problem}", line) from exc
    except OSError as exc:
        raise ContentError(path, f"kan ikke læse filen: {exc.strerror}") from exc


def _key_line(path: Path, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number of a pydantic error location in a YAML file."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            if match is None:
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


def parse(path: Path, model: type[M]) -> M:
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise ContentError(path, "filen skal indeholde felter (nøgle: værdi)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field_name = ".".join(str(p) for p in loc) or "(filen)"
        raise ContentError(path, f"{field_name}: {err['msg']}", _key_line(path, loc)) from exc


DOCUMENT_MODELS: dict[str, type[Approval]] = {
    "helplines.yml": Helplines,
    "municipalities.yml": Municipalities,
    "ui.yml": UiTexts,
}


def parse_document(path: Path) -> Approval:
    """Any approvable content file: a topic, helplines, municipalities or UI texts."""
    return parse(path, DOCUMENT_MODELS.get(path.name, Topic))


def iter_problems(root: Path) -> Iterator[ContentError]:
    """Parse every file and yield each problem instead of stopping at the first."""
    for name, model in (
        ("settings.yml", ContentSettings),
        ("helplines.yml", Helplines),
        ("municipalities.yml", Municipalities),
        ("ui.yml", UiTexts),
    ):
        try:
            parse(root / name, model)
        except ContentError as exc:
            yield exc
    seen: dict[str, Path] = {}
    for path in sorted((root / "topics").glob("*.yml")):
        try:
            topic = parse(path, Topic)
        except ContentError as exc:
            yield exc
            continue
        if topic.id != path.stem:
            yield ContentError(path, f"id {topic.id!r} skal være det samme som filnavnet", 1)
        if topic.id in seen:
            yield ContentError(path, f"id {topic.id!r} findes også i {seen[topic.id]}", 1)
        seen[topic.id] = path


def load(root: Path) -> ContentStore:
    """Load the content folder; raises the first ContentError found."""
    problems = list(iter_problems(root))
    if problems:
        raise problems[0]
    topic_files = sorted((root / "topics").glob("*.yml"))
    topics = {p.stem: parse(p, Topic) for p in topic_files}
    return ContentStore(
        root=root,
        settings=parse(root / "settings.yml", ContentSettings),
        topics=topics,
        helplines=parse(root / "helplines.yml", Helplines),
        municipalities=parse(root / "municipalities.yml", Municipalities),
        ui=parse(root / "ui.yml", UiTexts),
        files={p.stem: p for p in topic_files},
    )
