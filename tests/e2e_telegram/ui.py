"""Stable things to assert on: the first line of a UI text from content/ui.yml."""

from __future__ import annotations

from functools import cache

import yaml

from .harness import REPO


@cache
def _texts() -> dict[str, str]:
    document = yaml.safe_load((REPO / "content" / "ui.yml").read_text(encoding="utf-8"))
    return dict(document["texts"])


def first_line(key: str) -> str:
    """The first line of ``key`` (up to any template variable)."""
    line = _texts()[key].strip().splitlines()[0]
    return line.split("{{", 1)[0].strip()
