"""The one entry point every channel calls: safety → NLU → policy → content → replies."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot import intents
from bot.content.loader import ContentStore
from bot.content.schema import Municipality
from bot.dialogue import commands, payloads
from bot.dialogue.messages import Button, Reply, UserMessage
from bot.dialogue.responder import Responder
from bot.nlu.engine import NluEngine
from bot.nlu.pipeline import understand
from bot.nlu.result import ParseResult, entity_value
from bot.safety.layer import SafetyLayer
from bot.storage import conversations
from bot.storage.db import Database
from bot.storage.models import Conversation, utcnow

log = logging.getLogger(__name__)

ROBOT_REMINDER_EVERY = timedelta(days=1)
#: topics whose text itself says plainly that the bot is a robot
DISCLOSING_TOPICS = frozenset({"greet", "bot_challenge", "urgent_help"})
FORM_MUNICIPALITY = "ask_municipality"
FORM_DELETE = "confirm_delete"
MAX_TEXT_CHARS = 10_000
#: a "did you mean" button is offered only for intents at least this likely
GUESS_MIN_CONFIDENCE = 0.2


@dataclass
class Turn:
    """What happens while one message is handled (one unit of work)."""

    session: Session
    conversation: Conversation
    replies: list[Reply] = field(default_factory=list)
    disclosed: bool = False
    deleted: bool = False


class Assistant:
    def __init__(
        self, content: ContentStore, nlu: NluEngine, safety: SafetyLayer, db: Database
    ) -> None:
        self.content = content
        self.nlu = nlu
        self.safety = safety
        self.db = db
        self.respond = Responder(content)
        self._municipalities = {m.name: m for m in content.municipalities.municipalities}

    # -- entry point ----------------------------------------------------------------------
    def handle(self, message: UserMessage) -> list[Reply]:
        if message.in_group:
            # Never discuss personal matters where others read along; store nothing.
            return [self.respond.text("group_chat")]
        with self.db.unit_of_work() as session:
            conversation = conversations.get_or_create(session, message.chat_id)
            turn = Turn(session, conversation)
            self._dispatch(turn, message)
            if not turn.deleted:
                self._disclose_robot(turn)
                self._record(turn)
            return turn.replies

    def _dispatch(self, turn: Turn, message: UserMessage) -> None:
        if message.button is not None:
            self._on_button(turn, message.button)
        elif message.unsupported:
            turn.replies.append(self.respond.text("not_text", self.respond.menu_buttons()))
        else:
            self._on_text(turn, (message.text or "")[:MAX_TEXT_CHARS])

    # -- buttons --------------------------------------------------------------------------
    def _on_button(self, turn: Turn, raw: str) -> None:
        payload = payloads.parse(raw)
        conversation = turn.conversation
        if payload is None:
            turn.replies.append(self.respond.text("stale_button", self.respond.menu_buttons()))
            return
        if payload.action == "delete":
            if conversation.form == FORM_DELETE and payload.arg == "yes":
                self._delete(turn)
            else:
                conversation.form = None
                turn.replies.append(
                    self.respond.text("delete_cancelled", self.respond.menu_buttons())
                )
            return
        conversation.form = None
        if payload.action == "menu":
            turn.replies.append(self.respond.text("menu_prompt", self.respond.menu_buttons()))
        elif payload.action == "rights":
            turn.replies.append(
                self.respond.text("rights_menu_prompt", self.respond.rights_buttons())
            )
        elif payload.action == "more" and payload.arg:
            turn.replies.append(self._topic(turn, payload.arg, detail=True))
        elif payload.action == "topic" and payload.arg:
            self._route(turn, payload.arg, parse=None)

    # -- text -----------------------------------------------------------------------------
    def _on_text(self, turn: Turn, text: str) -> None:
        text = text.strip()
        if not text:
            turn.replies.append(self.respond.text("empty_message", self.respond.menu_buttons()))
            return
        command = commands.split_command(text)
        if command is not None:
            name, _argument = command
            intent = commands.COMMANDS.get(name)
            if intent is None:
                turn.replies.append(
                    self.respond.text("unknown_command", self.respond.menu_buttons())
                )
            else:
                turn.conversation.form = None
                self._route(turn, intent, parse=None)
            return

        parse = understand(text, self.nlu, self.safety)
        if parse["intent"]["name"] == intents.URGENT:
            self._urgent(turn, parse.get("safety"))
            return
        self._remember_entities(turn, parse)
        if self._continue_form(turn, text, parse):
            return
        intent = parse["intent"]["name"]
        if intent == intents.FALLBACK and entity_value(parse, "age") is not None:
            self._age_only(turn)
            return
        self._route(turn, intent, parse=parse)

    def _remember_entities(self, turn: Turn, parse: ParseResult) -> None:
        age = entity_value(parse, "age")
        if isinstance(age, int):
            turn.conversation.age = age
        name = entity_value(parse, "municipality")
        if isinstance(name, str) and name in self._municipalities:
            turn.conversation.municipality_code = self._municipalities[name].code

    def _continue_form(self, turn: Turn, text: str, parse: ParseResult) -> bool:
        conversation = turn.conversation
        form, conversation.form = conversation.form, None
        if form == FORM_MUNICIPALITY:
            if entity_value(parse, "municipality") is not None:
                turn.replies.append(self._municipality_contact(turn))
                return True
            if parse["intent"]["name"] == intents.FALLBACK:
                turn.replies.append(
                    self.respond.text("municipality_unknown", self.respond.menu_buttons())
                )
                return True
        if form == FORM_DELETE and text.lower().strip(" !.") in {"ja", "jep", "ja tak", "yes"}:
            self._delete(turn)
            return True
        return False

    # -- policy ---------------------------------------------------------------------------
    def _route(self, turn: Turn, intent: str, parse: ParseResult | None) -> None:
        conversation = turn.conversation
        if intent == intents.FALLBACK:
            self._fallback(turn, parse)
            return
        conversation.fallback_streak = 0
        if intent in ("greet", "help"):
            turn.replies.append(
                self._topic(turn, intent, with_buttons=False, buttons=self.respond.menu_buttons())
            )
        elif intent == "rights_overview":
            turn.replies.append(
                self._topic(turn, intent, extra=(Button(self.respond.ui("btn_rights"), "rights"),))
            )
        elif intent == "who_is_my_caseworker":
            turn.replies.append(self._topic(turn, intent))
            if conversation.municipality_code:
                turn.replies.append(self._municipality_contact(turn))
            else:
                conversation.form = FORM_MUNICIPALITY
                turn.replies.append(self.respond.text("municipality_ask"))
        elif intent == "delete_my_data":
            turn.replies.append(self._topic(turn, intent, with_buttons=False))
            conversation.form = FORM_DELETE
            turn.replies.append(
                self.respond.text(
                    "delete_confirm",
                    (
                        self.respond.button("btn_yes_delete", "delete:yes"),
                        self.respond.button("btn_no_keep", "delete:no"),
                    ),
                )
            )
        elif intent == intents.URGENT:
            self._urgent(turn, None)
        else:
            turn.replies.append(self._topic(turn, intent))

    def _topic(
        self,
        turn: Turn,
        topic_id: str,
        *,
        detail: bool = False,
        with_buttons: bool = True,
        buttons: tuple[Button, ...] = (),
        extra: tuple[Button, ...] = (),
    ) -> Reply:
        conversation = turn.conversation
        reply = self.respond.topic(
            topic_id,
            age=conversation.age,
            municipality=self._municipality(conversation),
            detail=detail,
            with_buttons=with_buttons,
            extra_buttons=extra,
        )
        if buttons:
            reply = Reply(reply.text, buttons, reply.topic, reply.urgent, reply.meta)
        if reply.topic:
            conversation.last_topic = topic_id
            turn.disclosed |= topic_id in DISCLOSING_TOPICS
        return reply

    def _urgent(self, turn: Turn, verdict: dict[str, Any] | None) -> None:
        if verdict is not None:
            log.warning(
                "safety layer flagged a message",
                extra={"categories": verdict["categories"], "detectors": verdict["detectors"]},
            )
        turn.conversation.form = None
        reply = self._topic(turn, intents.URGENT)
        turn.replies.append(Reply(reply.text, reply.buttons, reply.topic, True, reply.meta))

    def _fallback(self, turn: Turn, parse: ParseResult | None) -> None:
        conversation = turn.conversation
        streak = conversation.fallback_streak
        conversation.fallback_streak = streak + 1
        if streak == 0:
            ranking = parse["intent_ranking"] if parse else []
            guesses = [
                i["name"]
                for i in ranking[:3]
                if i["name"] not in (intents.FALLBACK, intents.URGENT)
                and i["confidence"] >= GUESS_MIN_CONFIDENCE
            ][:2]
            if guesses:
                turn.replies.append(self.respond.text("fallback_first"))
                buttons = (
                    *(self.respond.topic_button(g) for g in guesses),
                    self.respond.menu_button(),
                )
                turn.replies.append(self.respond.text("did_you_mean", buttons))
            else:
                turn.replies.append(self._topic(turn, intents.FALLBACK))
        else:
            turn.replies.append(
                self.respond.text(
                    "fallback_again",
                    (self.respond.topic_button("talk_to_someone"), self.respond.menu_button()),
                )
            )

    def _age_only(self, turn: Turn) -> None:
        conversation = turn.conversation
        turn.replies.append(self.respond.text("age_noted", age=conversation.age))
        last = conversation.last_topic
        topic = self.content.topics.get(last) if last else None
        if topic is not None and topic.variants:
            turn.replies.append(self._topic(turn, topic.id))
        else:
            turn.replies.append(self.respond.text("menu_prompt", self.respond.menu_buttons()))

    def _municipality(self, conversation: Conversation) -> Municipality | None:
        code = conversation.municipality_code
        if not code:
            return None
        return next((m for m in self._municipalities.values() if m.code == code), None)

    def _municipality_contact(self, turn: Turn) -> Reply:
        municipality = self._municipality(turn.conversation)
        buttons = (
            self.respond.topic_button("talk_to_someone"),
            self.respond.menu_button(),
        )
        return self.respond.text("municipality_contact", buttons, municipality=municipality)

    def _delete(self, turn: Turn) -> None:
        conversations.delete_chat(turn.session, turn.conversation.chat_key)
        turn.deleted = True
        turn.replies.append(self.respond.text("delete_done", self.respond.menu_buttons()))

    # -- bookkeeping ----------------------------------------------------------------------
    def _disclose_robot(self, turn: Turn, now: datetime | None = None) -> None:
        now = now or utcnow()
        conversation = turn.conversation
        last = conversation.robot_disclosed_at
        due = last is None or now - last >= ROBOT_REMINDER_EVERY
        if due and not turn.disclosed:
            turn.replies.insert(0, self.respond.text("robot_reminder"))
            turn.disclosed = True
        if turn.disclosed:
            conversation.robot_disclosed_at = now

    def _record(self, turn: Turn) -> None:
        conversation = turn.conversation
        conversation.updated_at = utcnow()
        if conversation.id is None:  # a new chat: its id is needed for the answer log
            turn.session.flush()
        for reply in turn.replies:
            if reply.topic:
                conversations.log_answer(
                    turn.session,
                    conversation,
                    reply.topic,
                    int(reply.meta.get("version", "0")),
                    reply.meta.get("hash", ""),
                )
