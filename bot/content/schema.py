"""The schema of the versioned YAML files in ``content/``.

Every file carries approval metadata (``version``, ``approved_by``, ``approved_at``,
``approved_hash``). The hash covers everything except those four fields, so a text
changed after approval is detected at load time and not served.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot import intents

APPROVAL_FIELDS = frozenset({"version", "approved_by", "approved_at", "approved_hash"})
PHONE_RE = re.compile(r"^\d{2,3}( \d{2,3}){0,3}$")
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")

FactStatus = Literal["verified", "partly_verified", "unverified"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Approval(Strict):
    """Approval metadata shared by every content file."""

    version: int = Field(0, ge=0, description="0 = never approved")
    approved_by: str | None = None
    approved_at: datetime | None = None
    approved_hash: str | None = None

    def content_hash(self) -> str:
        return content_hash(self.model_dump(mode="json"))

    @cached_property
    def is_approved(self) -> bool:
        """Computed once: documents are frozen, so their hash cannot change after load."""
        return self.approved_hash is not None and self.approved_hash == self.content_hash()


def content_hash(data: dict[str, Any]) -> str:
    """sha256 over the canonical JSON of a content document without its approval fields."""
    body = {k: v for k, v in data.items() if k not in APPROVAL_FIELDS}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Source(Strict):
    """Where a legal statement comes from (a row of shared/reference/barnets-lov-facts.md)."""

    law: str = Field("Barnets lov", description="e.g. 'Barnets lov' or 'Retssikkerhedsloven'")
    paragraph: str = Field(..., min_length=1, description="e.g. '§ 3, stk. 1'")
    url: str
    facts: list[str] = Field(default_factory=list, description="fact ids, e.g. ['PR-1']")
    status: FactStatus = "verified"
    note: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not URL_RE.match(v):
            raise ValueError(f"ugyldigt link: {v!r}")
        return v

    @property
    def label(self) -> str:
        return f"{self.law} {self.paragraph}"


class Variant(Strict):
    """An age-dependent version of a topic's answer. Bounds are inclusive."""

    min_age: int | None = Field(None, ge=0, le=30)
    max_age: int | None = Field(None, ge=0, le=30)
    answer: str = Field(..., min_length=1)

    def matches(self, age: int) -> bool:
        return (self.min_age is None or age >= self.min_age) and (
            self.max_age is None or age <= self.max_age
        )


TopicKind = Literal["rights", "social", "service", "safety", "fallback"]


class Topic(Approval):
    """One answer the bot can give; ``id`` is the intent id it answers."""

    id: str
    kind: TopicKind
    title: str = Field(..., min_length=1, max_length=40, description="button label")
    answer: str = Field(..., min_length=1, description="Jinja2 template, one phone screen")
    variants: list[Variant] = Field(default_factory=list)
    more: str | None = Field(None, description="optional 'læs mere' text (Jinja2)")
    sources: list[Source] = Field(default_factory=list)
    buttons: list[str] = Field(default_factory=list, description="intent ids offered next")
    editor_notes: str | None = Field(None, description="for editors only, never shown")

    @field_validator("id")
    @classmethod
    def _known_intent(cls, v: str) -> str:
        if v not in intents.ALL:
            raise ValueError(f"ukendt id {v!r}: skal være en af intenterne i SPEC.md")
        return v

    @field_validator("buttons")
    @classmethod
    def _known_buttons(cls, v: list[str]) -> list[str]:
        unknown = [b for b in v if b not in intents.ALL and b != "menu"]
        if unknown:
            raise ValueError(f"knap peger på ukendt emne: {', '.join(unknown)}")
        return v

    @model_validator(mode="after")
    def _rights_need_sources(self) -> Topic:
        if self.kind == "rights" and not self.sources:
            raise ValueError("et emne om rettigheder skal have mindst én kilde (§ og link)")
        return self

    def answer_for(self, age: int | None) -> str:
        if age is not None:
            for variant in self.variants:
                if variant.matches(age):
                    return variant.answer
        return self.answer

    @property
    def unverified(self) -> bool:
        return any(s.status != "verified" for s in self.sources)


class Helpline(Strict):
    id: str = Field(..., pattern=r"^[a-z0-9_]+$")
    name: str
    phone: str | None = None
    sms: str | None = None
    url: str | None = None
    hours: str | None = Field(None, description="as the source says; None if not verified")
    who: str
    anonymous: bool
    status: FactStatus
    sources: list[str] = Field(..., min_length=1)

    @field_validator("phone", "sms")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not PHONE_RE.match(v):
            raise ValueError(f"ugyldigt telefonnummer: {v!r}")
        return v


class Helplines(Approval):
    helplines: list[Helpline]

    def by_id(self) -> dict[str, Helpline]:
        return {h.id: h for h in self.helplines}


class Municipality(Strict):
    code: str = Field(..., pattern=r"^\d{3}$")
    name: str
    name_ascii: str
    region: Literal["Hovedstaden", "Sjælland", "Syddanmark", "Midtjylland", "Nordjylland"]
    website: str
    phone: str | None = None
    child_family_url: str | None = None
    verified: bool
    sources: list[str] = Field(default_factory=list)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not PHONE_RE.match(v):
            raise ValueError(f"ugyldigt telefonnummer: {v!r}")
        return v


class Municipalities(Approval):
    municipalities: Annotated[list[Municipality], Field(min_length=98, max_length=98)]


class UiTexts(Approval):
    """Every other text a child sees (welcome, menu, errors, button labels)."""

    texts: dict[str, str]


class EmailTemplates(Approval):
    """The e-mail a caseworker gets (``content/email/*.j2``), approved as one document.

    The templates are read from their files; ``content/email/approval.yml`` holds only the
    approval fields, so the hash covers the text of every template.
    """

    templates: dict[str, str]


class ContentSettings(Strict):
    """Limits the editors set for their own texts (content/settings.yml)."""

    locale: str = "da_DK"
    lix_max_answer: float = 30.0
    lix_max_more: float = 35.0
    max_chars: int = Field(700, description="one phone screen")
    menu_topics: list[str] = Field(default_factory=list)
