"""The one entry point every channel calls: safety → NLU → policy → content → replies."""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot import intents
from bot.casework import codes
from bot.casework import service as casework
from bot.casework.hours import OfficeHoursError, format_hours
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
from bot.storage.models import ChildLink, Conversation, utcnow

log = logging.getLogger(__name__)

ROBOT_REMINDER_EVERY = timedelta(days=1)
#: topics whose text itself says plainly that the bot is a robot
DISCLOSING_TOPICS = frozenset({"greet", "bot_challenge", "urgent_help"})
FORM_MUNICIPALITY = "ask_municipality"
FORM_DELETE = "confirm_delete"
FORM_MESSAGE = "write_message"
FORM_MESSAGE_CONFIRM = "confirm_message"
MAX_TEXT_CHARS = 10_000
#: a "did you mean" button is offered only for intents at least this likely
GUESS_MIN_CONFIDENCE = 0.2


@dataclass
class Turn:
    """What happens while one message is handled (one unit of work)."""

    session: Session
    conversation: Conversation
    link: ChildLink | None = None
    replies: list[Reply] = field(default_factory=list)
    disclosed: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class LiveContent:
    """The content a message is answered from: replaced as a whole, never piece by piece."""

    store: ContentStore
    respond: Responder
    municipalities: dict[str, Municipality]

    @classmethod
    def of(cls, store: ContentStore) -> LiveContent:
        by_name = {m.name: m for m in store.municipalities.municipalities}
        return cls(store, Responder(store), by_name)


#: the content the message being handled started with (per thread / task: a copied context)
_pinned: ContextVar[tuple[Assistant, LiveContent] | None] = ContextVar(
    "barnebot_pinned_content", default=None
)


class Assistant:
    def __init__(
        self,
        content: ContentStore,
        nlu: NluEngine,
        safety: SafetyLayer,
        db: Database,
        code_key: bytes = b"barnebot-test-key",
    ) -> None:
        self.code_key = code_key
        self.nlu = nlu
        self.safety = safety
        self.db = db
        self._live = LiveContent.of(content)

    # -- content --------------------------------------------------------------------------
    def use_content(self, content: ContentStore) -> None:
        """Answer from ``content`` from the next message on (publishing without restart).

        Store, responder and look-ups are swapped in one assignment, so a message is answered
        wholly from the old or wholly from the new content: a message being handled keeps
        what it started with (``handle`` pins it).
        """
        self._live = LiveContent.of(content)

    def _current(self) -> LiveContent:
        pinned = _pinned.get()
        if pinned is not None and pinned[0] is self:
            return pinned[1]
        return self._live

    @property
    def content(self) -> ContentStore:
        return self._current().store

    @property
    def respond(self) -> Responder:
        return self._current().respond

    @property
    def _municipalities(self) -> dict[str, Municipality]:
        return self._current().municipalities

    # -- entry point ----------------------------------------------------------------------
    def handle(self, message: UserMessage) -> list[Reply]:
        token = _pinned.set((self, self._live))
        try:
            return self._handle(message)
        finally:
            _pinned.reset(token)

    def _handle(self, message: UserMessage) -> list[Reply]:
        if message.in_group:
            # Never discuss personal matters where others read along; store nothing.
            return [self.respond.text("group_chat")]
        with self.db.unit_of_work() as session:
            conversation = conversations.get_or_create(session, message.chat_id)
            link = casework.link_for(session, message.chat_id) if conversation.linked else None
            conversation.linked = link is not None
            turn = Turn(session, conversation, link=link)
            self._announce(turn)
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
        if payload.action == "message":
            self._on_message_button(turn, payload.arg or "")
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
            name, argument = command
            if name == "start" and argument:
                # Telegram deep link https://t.me/<bot>?start=<CODE>
                self._redeem(turn, argument)
                return
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
        urgent = parse["intent"]["name"] == intents.URGENT
        if turn.conversation.form == FORM_MESSAGE:
            # The child's own message to the caseworker: kept whatever it says; danger also
            # gets the emergency answer at once and makes the message urgent.
            if urgent:
                self._urgent(turn, parse.get("safety"))
            self._draft(turn, text, urgent)
            return
        if urgent:
            self._urgent(turn, parse.get("safety"))
            return
        if codes.looks_like_code(text):
            self._redeem(turn, text)
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
            if intent == "greet" and turn.link is not None:
                turn.replies.append(self._text(turn, "greet_linked"))
        elif intent == "rights_overview":
            turn.replies.append(
                self._topic(turn, intent, extra=(Button(self.respond.ui("btn_rights"), "rights"),))
            )
        elif intent == "who_is_my_caseworker" and turn.link is not None:
            turn.replies.append(self._caseworker_card(turn))
        elif intent == "leave_message" and self._recipient(turn) is not None:
            self._start_message(turn)
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

    # -- caseworker, linking and messages --------------------------------------------------
    def _caseworker(self, link: ChildLink) -> dict[str, Any]:
        worker = link.caseworker
        municipality = next(
            (m.name for m in self._municipalities.values() if m.code == worker.municipality_code),
            None,
        )
        try:
            hours = format_hours(worker.office_hours) if worker.office_hours else []
        except OfficeHoursError:
            hours = []
        return {
            "name": worker.name,
            "first_name": worker.name.split()[0],
            "title": worker.title,
            "phone": worker.phone,
            "email": worker.email,
            "municipality": municipality,
            "office_hours": hours,
        }

    def _text(self, turn: Turn, key: str, buttons: tuple[Button, ...] = (), **extra: Any) -> Reply:
        caseworker = self._caseworker(turn.link) if turn.link else None
        return self.respond.text(key, buttons, caseworker=caseworker, **extra)

    def _announce(self, turn: Turn) -> None:
        """News since the child last wrote: a new caseworker, messages that were sent."""
        link = turn.link
        if link is not None and link.announced_caseworker_id != link.caseworker_id:
            turn.replies.append(self._text(turn, "caseworker_changed"))
            link.announced_caseworker_id = link.caseworker_id
        if not turn.conversation.awaiting_receipt:
            return
        chat_key = turn.conversation.chat_key
        turn.conversation.awaiting_receipt = casework.has_undelivered(turn.session, chat_key)
        for sent in casework.undelivered_receipts(turn.session, chat_key):
            name = (sent.recipient_name or "").split(" ")[0] or self._municipality_name(
                sent.municipality_code
            )
            turn.replies.append(self.respond.text("message_sent", recipient=name))
            sent.receipt_delivered = True

    def collect_receipts(self, chat_prefix: str) -> list[tuple[str, Reply]]:
        """Receipts ("sendt til Mette") for a channel to push to children who are not writing
        right now. Each is handed out once; a child who writes first gets it in the answer."""
        out: list[tuple[str, Reply]] = []
        token = _pinned.set((self, self._live))
        try:
            self._collect_receipts(chat_prefix, out)
        finally:
            _pinned.reset(token)
        return out

    def _collect_receipts(self, chat_prefix: str, out: list[tuple[str, Reply]]) -> None:
        with self.db.unit_of_work() as session:
            for sent in casework.delivered_unannounced(session, chat_prefix):
                chat_key = sent.chat_key or ""
                name = (sent.recipient_name or "").split(" ")[0] or self._municipality_name(
                    sent.municipality_code
                )
                out.append((chat_key, self.respond.text("message_sent", recipient=name)))
                sent.receipt_delivered = True

    def _municipality_name(self, code: str | None) -> str:
        found = next((m for m in self._municipalities.values() if m.code == code), None)
        return f"{found.name} Kommune" if found else ""

    def _caseworker_card(self, turn: Turn) -> Reply:
        buttons = (
            self.respond.button("btn_write_message", payloads.topic("leave_message")),
            self.respond.button("btn_caseworker_help", payloads.topic("support_measures")),
            self.respond.menu_button(),
        )
        return self._text(turn, "caseworker_card", buttons)

    def _redeem(self, turn: Turn, text: str) -> None:
        result = casework.redeem(turn.session, turn.conversation.chat_key, text, self.code_key)
        if result.status == "linked" and result.link is not None:
            turn.link = result.link
            turn.conversation.linked = True
            log.info("chat linked to a caseworker", extra={"link": result.link.id})
            buttons = (
                self.respond.button("btn_write_message", payloads.topic("leave_message")),
                self.respond.topic_button("who_is_my_caseworker"),
                self.respond.menu_button(),
            )
            turn.replies.append(self._text(turn, "link_success", buttons))
            return
        log.info("invite code not accepted", extra={"status": result.status})
        key = {"locked": "link_locked", "busy": "link_busy"}.get(result.status, "link_failed")
        turn.replies.append(self.respond.text(key, self.respond.menu_buttons()))

    def _recipient(self, turn: Turn) -> str | None:
        """Who a message from this child would reach, as the child should read it."""
        if turn.link is not None and turn.link.caseworker.active:
            return turn.link.caseworker.name.split()[0]
        code = turn.conversation.municipality_code
        if casework.general_email(turn.session, code):
            return self._municipality_name(code)
        return None

    def _start_message(self, turn: Turn) -> None:
        conversation = turn.conversation
        # Coming from the emergency answer ("skriv til din rådgiver"): the message is urgent.
        conversation.draft_urgent = conversation.last_topic == intents.URGENT
        conversation.draft = None
        conversation.form = FORM_MESSAGE
        cancel = (self.respond.button("btn_cancel_message", "message:cancel"),)
        turn.replies.append(
            self.respond.text("message_intro", cancel, recipient=self._recipient(turn))
        )

    def _draft(self, turn: Turn, text: str, urgent: bool) -> None:
        conversation = turn.conversation
        if len(text) > casework.MAX_MESSAGE_CHARS:
            turn.replies.append(self.respond.text("message_too_long"))
        conversation.draft = text[: casework.MAX_MESSAGE_CHARS]
        conversation.draft_urgent = conversation.draft_urgent or urgent
        conversation.form = FORM_MESSAGE_CONFIRM
        buttons = (
            self.respond.button("btn_send", "message:send"),
            self.respond.button("btn_edit", "message:edit"),
            self.respond.button("btn_cancel_message", "message:cancel"),
        )
        turn.replies.append(self.respond.text("message_preview", buttons, draft=conversation.draft))

    def _on_message_button(self, turn: Turn, action: str) -> None:
        conversation = turn.conversation
        if action == "edit" and conversation.form in (FORM_MESSAGE, FORM_MESSAGE_CONFIRM):
            conversation.form = FORM_MESSAGE
            cancel = (self.respond.button("btn_cancel_message", "message:cancel"),)
            turn.replies.append(self.respond.text("message_rewrite", cancel))
            return
        if action == "send" and conversation.form == FORM_MESSAGE_CONFIRM and conversation.draft:
            recipient = self._recipient(turn)
            queued = casework.queue_message(
                turn.session,
                chat_key=conversation.chat_key,
                body=conversation.draft,
                urgent=conversation.draft_urgent,
                link=turn.link,
                municipality_code=conversation.municipality_code,
            )
            conversation.form, conversation.draft, conversation.draft_urgent = None, None, False
            if queued is None:  # nobody to send to any more (unlinked meanwhile)
                turn.replies.append(self._topic(turn, "leave_message"))
                return
            conversation.awaiting_receipt = True
            log.info(
                "message queued", extra={"reference": queued.reference, "urgent": queued.urgent}
            )
            turn.replies.append(
                self.respond.text("message_saved", self.respond.menu_buttons(), recipient=recipient)
            )
            return
        # cancel, or a stale button for a message that is already sent or gone
        had_draft = conversation.draft is not None
        conversation.form, conversation.draft, conversation.draft_urgent = None, None, False
        key = "message_cancelled" if had_draft or action == "cancel" else "stale_button"
        turn.replies.append(self.respond.text(key, self.respond.menu_buttons()))

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
