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


#: Example values ``content check`` renders every text with, so a template that uses a
#: caseworker, a message draft or a recipient is checked like any other.
SAMPLE_CASEWORKER: dict[str, Any] = {
    "name": "Mette Hansen",
    "first_name": "Mette",
    "title": "børne- og ungerådgiver",
    "phone": "12 34 56 78",
    "email": "mette@kommune.dk",
    "municipality": "Aarhus",
    "office_hours": [
        {"first_day": "mandag", "last_day": "torsdag", "start": "9.00", "end": "15.00"}
    ],
}
SAMPLE_VALUES: dict[str, Any] = {
    "caseworker": SAMPLE_CASEWORKER,
    "recipient": "Mette",
    "draft": "Kan du ringe til mig i morgen?",
}
