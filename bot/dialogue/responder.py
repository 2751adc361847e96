"""Turn approved content into replies: text rendered for this child, plus next-step buttons."""

from __future__ import annotations

import logging
from typing import Any

import jinja2

from bot import intents
from bot.content.citation import citation
from bot.content.context import template_context
from bot.content.loader import ContentStore
from bot.content.render import render
from bot.content.schema import Municipality, Topic
from bot.dialogue import payloads
from bot.dialogue.messages import Button, Reply

log = logging.getLogger(__name__)


class Responder:
    def __init__(self, store: ContentStore, *, drafts: bool = False) -> None:
        """``drafts``: serve topics that are not approved (``content preview`` only)."""
        self.store = store
        self.drafts = drafts

    # -- plain UI texts -------------------------------------------------------------------
    def ui(self, key: str, **context: Any) -> str:
        return render(self.store.text(key), template_context(self.store, **context))

    def button(self, key: str, payload: str) -> Button:
        return Button(self.ui(key), payload)

    def topic_button(self, topic_id: str) -> Button:
        if topic_id == "menu":
            return self.menu_button()
        topic = self.store.topics.get(topic_id)
        label = topic.title if topic else topic_id
        return Button(label, payloads.topic(topic_id))

    def menu_button(self) -> Button:
        return self.button("btn_menu", "menu")

    def menu_buttons(self) -> tuple[Button, ...]:
        return tuple(self.topic_button(t) for t in self.store.settings.menu_topics)

    def rights_buttons(self) -> tuple[Button, ...]:
        rights = (self.topic_button(t) for t in intents.RIGHTS if t != "rights_overview")
        return (*rights, self.menu_button())

    def text(self, key: str, buttons: tuple[Button, ...] = (), **context: Any) -> Reply:
        return Reply(self.ui(key, **context), buttons)

    # -- topics ---------------------------------------------------------------------------
    def servable(self, topic_id: str) -> Topic | None:
        topic = self.store.topics.get(topic_id)
        if topic is None or not (topic.is_approved or self.drafts):
            log.error(
                "content not servable: topic missing or changed after approval",
                extra={"topic": topic_id},
            )
            return None
        return topic

    def holding(self) -> Reply:
        return Reply(self.ui("holding_answer"), self.menu_buttons())

    def topic(
        self,
        topic_id: str,
        *,
        age: int | None,
        municipality: Municipality | None = None,
        detail: bool = False,
        extra_buttons: tuple[Button, ...] = (),
        with_buttons: bool = True,
    ) -> Reply:
        topic = self.servable(topic_id)
        if topic is None:
            return self.holding()
        context = template_context(self.store, age=age, municipality=municipality, topic=topic)
        source = topic.more if detail and topic.more else topic.answer_for(age)
        try:
            body = render(source, context)
        except jinja2.TemplateError:
            log.exception("content template failed", extra={"topic": topic_id})
            return self.holding()
        cited = citation(topic, self.ui("source_prefix"))
        if cited:
            body += "\n\n" + cited
        buttons: list[Button] = []
        if with_buttons:
            if topic.more and not detail:
                buttons.append(self.button("btn_more", payloads.more(topic_id)))
            buttons.extend(self.topic_button(b) for b in topic.buttons)
            buttons.extend(extra_buttons)
            if not any(b.payload == "menu" for b in buttons):
                buttons.append(self.menu_button())
        return Reply(
            body,
            tuple(buttons),
            topic=topic_id,
            urgent=topic.kind == "safety",
            meta={"version": str(topic.version), "hash": topic.approved_hash or ""},
        )
