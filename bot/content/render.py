"""Render content templates with a sandboxed, strict Jinja2 environment.

Templates are written by editors; values (ages, names) come from children and caseworkers.
The sandbox keeps a template from reaching Python internals, StrictUndefined turns a typo in a
variable name into an error instead of an empty hole in a child's answer, and values are
inserted as data, never evaluated as templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import StrictUndefined, Template, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

LOCALE = "da_DK"

#: The variables a template may use. ``content check`` rejects any other name.
ALLOWED_VARIABLES = frozenset(
    {
        "age",
        "helplines",
        "municipality",
        "municipalities",
        "caseworker",
        "topic",
        "today",
        "n",
        "draft",
        "recipient",
    }
)

#: The variables an e-mail template (``content/email/*.j2``) may use: one message's own fields
#: (``bot.forwarding.mail.context``).
EMAIL_VARIABLES = frozenset(
    {
        "child",
        "recipient_name",
        "linked",
        "municipality",
        "urgent",
        "time",
        "reference",
        "body",
        "body_lines",
    }
)


def _date(value: date | datetime, fmt: str = "d. MMMM yyyy") -> str:
    if isinstance(value, datetime):
        return format_datetime(value, fmt, locale=LOCALE)
    return format_date(value, fmt, locale=LOCALE)


def _number(value: float) -> str:
    return format_decimal(value, locale=LOCALE)


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dato"] = _date
    env.filters["tal"] = _number
    return env


@lru_cache(maxsize=2048)
def compile_template(source: str) -> Template:
    return environment().from_string(source)


def undeclared_variables(source: str) -> set[str]:
    """Names a template reads from its context (raises jinja2.TemplateSyntaxError)."""
    return set(meta.find_undeclared_variables(environment().parse(source)))


def render(source: str, context: Mapping[str, Any]) -> str:
    return compile_template(source).render(**context).strip()
