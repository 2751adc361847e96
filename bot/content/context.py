"""The variables a content template is rendered with."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.content.loader import ContentStore
from bot.content.schema import Municipality


def template_context(
    store: ContentStore,
    *,
    age: int | None = None,
    municipality: Municipality | None = None,
    caseworker: Any = None,
    today: date | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "age": age,
        "helplines": store.helplines.by_id(),
        "municipality": municipality,
        "municipalities": len(store.municipalities.municipalities),
        "caseworker": caseworker,
        "today": today or date.today(),
        **extra,
    }
