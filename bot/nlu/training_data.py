"""Read NLU training data in Rasa 3 YAML format (``nlu/data/*.yml``) as plain data."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<entity>[^)]+)\)|(?P<json>\{[^}]*\}))")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[tuple[str, str, int, int], ...] = ()  # (entity, value, start, end)


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant (lower) -> canonical
    lookups: dict[str, list[str]] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})


def strip_annotations(raw: str) -> tuple[str, tuple[tuple[str, str, int, int], ...]]:
    """``"jeg bor i [kbh](municipality)"`` → plain text and (entity, value, start, end)."""
    out: list[str] = []
    entities: list[tuple[str, str, int, int]] = []
    pos = 0
    length = 0
    for match in _ANNOTATION.finditer(raw):
        before = raw[pos : match.start()]
        out.append(before)
        length += len(before)
        text = match.group("text")
        if match.group("json"):
            meta: dict[str, Any] = json.loads(match.group("json"))
            entity, value = str(meta.get("entity", "")), str(meta.get("value", text))
        else:
            entity, _, value = match.group("entity").partition(":")
            value = value or text
        entities.append((entity, value, length, length + len(text)))
        out.append(text)
        length += len(text)
        pos = match.end()
    out.append(raw[pos:])
    return "".join(out), tuple(entities)


def _items(block: Any) -> list[str]:
    if isinstance(block, list):
        return [str(x) for x in block]
    lines = str(block or "").splitlines()
    return [ln.strip()[2:].strip() for ln in lines if ln.strip().startswith("- ")]


def load_files(paths: Iterable[Path]) -> TrainingData:
    data = TrainingData()
    digest = hashlib.sha256()
    for path in sorted(paths):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        doc = yaml.safe_load(raw) or {}
        for item in doc.get("nlu", []) or []:
            if "intent" in item:
                for line in _items(item.get("examples")):
                    text, entities = strip_annotations(line)
                    data.examples.append(Example(text, item["intent"], entities))
            elif "synonym" in item:
                for variant in _items(item.get("examples")):
                    data.synonyms[variant.lower()] = item["synonym"]
            elif "lookup" in item:
                data.lookups.setdefault(item["lookup"], []).extend(_items(item.get("examples")))
    data.fingerprint = digest.hexdigest()
    return data


def load_dir(directory: Path) -> TrainingData:
    return load_files(directory.glob("*.yml"))
