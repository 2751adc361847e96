"""The dialogue core end to end: UserMessage in, replies out, state in a real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.config import Settings
from bot.dialogue.messages import Reply, UserMessage
from bot.runtime import Runtime, build
from bot.storage.models import AnswerLog, Conversation, utcnow

CHAT = "test:1"


def say(rt: Runtime, text: str, chat: str = CHAT) -> list[Reply]:
    return rt.assistant.handle(UserMessage(chat, text=text))


def press(rt: Runtime, payload: str, chat: str = CHAT) -> list[Reply]:
    return rt.assistant.handle(UserMessage(chat, button=payload))


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


def offers_a_way_on(replies: list[Reply]) -> bool:
    """Never a dead end: the last reply has buttons (the menu, or topics to go on to)."""
    return bool(replies and replies[-1].buttons)


def joined(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def topics(replies: list[Reply]) -> list[str | None]:
    return [r.topic for r in replies if r.topic]


def test_start_says_plainly_it_is_a_robot_and_offers_a_menu(runtime: Runtime) -> None:
    replies = say(runtime, "/start")
    assert "robot" in joined(replies).lower()
    assert set(runtime.content.settings.menu_topics) <= {
        p.split(":")[-1] for p in payloads(replies)
    }


def test_first_contact_with_a_question_still_discloses_the_robot(runtime: Runtime) -> None:
    replies = say(runtime, "kan jeg klage")
    assert "robot" in replies[0].text.lower()
    assert "complaint" in topics(replies)
    again = say(runtime, "hvad er en bisidder")
    assert "robot" not in joined(again).lower()


def test_robot_is_disclosed_again_after_a_day(runtime: Runtime) -> None:
    say(runtime, "hej")
    with runtime.db.unit_of_work() as s:
        conv = s.scalars(select(Conversation)).one()
        conv.robot_disclosed_at = utcnow() - timedelta(days=1, minutes=1)
    assert "robot" in joined(say(runtime, "hvad er en bisidder")).lower()


def test_rights_question_with_typos_gets_the_topic_with_source_and_buttons(
    runtime: Runtime,
) -> None:
    replies = say(runtime, "hvd er en bisider")
    reply = next(r for r in replies if r.topic)
    assert reply.topic == "support_person"
    assert "§" in reply.text and "https://" in reply.text
    assert "menu" in [b.payload for b in reply.buttons]


def test_button_path_three_levels_deep(runtime: Runtime) -> None:
    say(runtime, "/start")
    first = press(runtime, "topic:rights_overview")
    assert "rights" in payloads(first)
    second = press(runtime, "rights")
    assert "topic:complaint" in payloads(second)
    third = press(runtime, "topic:complaint")
    assert topics(third) == ["complaint"]
    assert payloads(third), "never a dead end"


def test_more_button_shows_the_detail_text(runtime: Runtime) -> None:
    replies = say(runtime, "hvad betyder partsstatus")
    assert "more:party_rights" in payloads(replies)
    detail = press(runtime, "more:party_rights")
    assert topics(detail) == ["party_rights"]
    assert detail[-1].text != replies[-1].text


def test_age_is_remembered_and_picks_the_variant(runtime: Runtime) -> None:
    young = say(runtime, "jeg er 9 år. hvad er partsstatus", chat="test:young")
    old = say(runtime, "jeg er 14 år. hvad er partsstatus", chat="test:old")
    assert joined(young) != joined(old)
    assert "14" in joined(old)
    with runtime.db.unit_of_work() as s:
        ages = dict(s.execute(select(Conversation.chat_key, Conversation.age)).all())
    assert ages == {"test:young": 9, "test:old": 14}


def test_age_alone_re_answers_the_last_topic_for_that_age(runtime: Runtime) -> None:
    first = say(runtime, "hvad er partsstatus")
    after = say(runtime, "jeg er 12")
    assert "12" in after[0].text
    assert topics(after) == ["party_rights"]
    assert after[-1].text != next(r for r in first if r.topic).text


def test_not_understood_offers_a_way_on_and_never_loops(runtime: Runtime) -> None:
    say(runtime, "/start")
    first = say(runtime, "qwxz vbnm plk")
    second = say(runtime, "zzkk vvbb")
    third = say(runtime, "ppqq")
    for replies in (first, second, third):
        assert offers_a_way_on(replies)
    assert joined(first) != joined(second)
    assert runtime.content.helplines.by_id()["boernetelefonen"].phone in joined(second)


def test_danger_gets_the_urgent_answer_at_once_even_inside_a_form(runtime: Runtime) -> None:
    say(runtime, "hvem er min rådgiver")  # bot now asks for the municipality
    replies = say(runtime, "min far slår mig")
    urgent = [r for r in replies if r.urgent]
    assert urgent and urgent[0].topic == "urgent_help"
    assert "112" in urgent[0].text
    assert "topic:leave_message" in payloads(replies)


def test_harmless_lookalike_is_not_an_emergency(runtime: Runtime) -> None:
    replies = say(runtime, "jeg dør af grin haha")
    assert not any(r.urgent for r in replies)


def test_who_is_my_caseworker_asks_municipality_then_gives_general_contact(
    runtime: Runtime,
) -> None:
    replies = say(runtime, "hvem er min sagsbehandler")
    assert topics(replies) == ["who_is_my_caseworker"]
    contact = say(runtime, "aarhus")
    assert "Aarhus" in joined(contact)
    with runtime.db.unit_of_work() as s:
        assert s.scalars(select(Conversation.municipality_code)).one() == "751"


def test_who_is_my_caseworker_with_municipality_in_the_question(runtime: Runtime) -> None:
    replies = say(runtime, "jeg bor i kbh hvem er min rådgiver")
    assert "København" in joined(replies)


def test_unknown_municipality_gets_a_kind_retry(runtime: Runtime) -> None:
    say(runtime, "hvem er min rådgiver")
    replies = say(runtime, "blablaby")
    assert offers_a_way_on(replies)


def test_delete_my_data_asks_first_then_deletes_everything(runtime: Runtime) -> None:
    say(runtime, "jeg er 13 og bor i odense")
    say(runtime, "hvad er en bisidder")
    say(runtime, "hej", chat="test:other")
    replies = say(runtime, "/slet")
    assert "delete:yes" in payloads(replies) and "delete:no" in payloads(replies)
    with runtime.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(AnswerLog)) >= 2
    done = press(runtime, "delete:yes")
    assert offers_a_way_on(done)
    with runtime.db.unit_of_work() as s:
        keys = s.scalars(select(Conversation.chat_key)).all()
        logs = s.scalar(
            select(func.count())
            .select_from(AnswerLog)
            .join(Conversation)
            .where(Conversation.chat_key == CHAT)
        )
    assert keys == ["test:other"] and logs == 0


def test_delete_cancelled_keeps_data(runtime: Runtime) -> None:
    say(runtime, "jeg er 13")
    say(runtime, "slet mine data")
    press(runtime, "delete:no")
    with runtime.db.unit_of_work() as s:
        assert s.scalars(select(Conversation.age)).one() == 13


def test_forged_delete_button_without_confirmation_deletes_nothing(runtime: Runtime) -> None:
    say(runtime, "jeg er 13")
    press(runtime, "delete:yes")
    with runtime.db.unit_of_work() as s:
        assert s.scalars(select(Conversation.age)).one() == 13


def test_stale_or_forged_buttons_get_a_kind_answer(runtime: Runtime) -> None:
    for payload in ["topic:no_such", "x" * 200, "delete:all", "", "menu:extra:stuff"]:
        replies = press(runtime, payload)
        assert offers_a_way_on(replies), payload


def test_unsupported_empty_and_unknown_command(runtime: Runtime) -> None:
    for message in [
        UserMessage(CHAT, unsupported=True),
        UserMessage(CHAT, text="   "),
        UserMessage(CHAT, text="/frobnicate"),
    ]:
        replies = runtime.assistant.handle(message)
        assert offers_a_way_on(replies), message


def test_group_chat_gets_a_privacy_note_and_nothing_is_stored(runtime: Runtime) -> None:
    replies = runtime.assistant.handle(
        UserMessage("test:group", text="min far slår mig", in_group=True)
    )
    assert len(replies) == 1 and not replies[0].urgent
    with runtime.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0


def test_ten_thousand_characters_and_emoji_only(runtime: Runtime) -> None:
    long = say(runtime, "jeg vil gerne vide noget om mine rettigheder " * 230)
    assert offers_a_way_on(long)
    emoji = say(runtime, "😭😭😭")
    assert offers_a_way_on(emoji)


def test_two_children_never_see_each_others_state(runtime: Runtime) -> None:
    say(runtime, "jeg er 15 og bor i aalborg", chat="test:a")
    replies = say(runtime, "hvem er min rådgiver", chat="test:b")
    assert "Aalborg" not in joined(replies)
    assert "15" not in joined(replies)


def test_answer_log_records_topic_and_version_not_text(runtime: Runtime) -> None:
    say(runtime, "hvad er aktindsigt")
    with runtime.db.unit_of_work() as s:
        row = s.scalars(select(AnswerLog).where(AnswerLog.topic_id == "access_to_records")).one()
        assert row.topic_version == runtime.content.topics["access_to_records"].version
        assert row.content_hash == runtime.content.topics["access_to_records"].approved_hash


def test_state_survives_a_restart(settings: Settings) -> None:
    first = build(settings)
    say(first, "jeg er 11")
    first.close()
    second = build(settings)
    try:
        replies = say(second, "hvad er partsstatus")
        assert "11" in joined(replies)
    finally:
        second.close()


def test_retention_forgets_inactive_conversations(settings: Settings) -> None:
    rt = build(settings)
    say(rt, "jeg er 11", chat="test:old")
    say(rt, "jeg er 12", chat="test:new")
    with rt.db.unit_of_work() as s:
        old = s.scalars(select(Conversation).where(Conversation.chat_key == "test:old")).one()
        old.updated_at = utcnow() - timedelta(days=settings.retention_days + 1)
    rt.close()
    rt = build(settings)  # retention runs at start
    with rt.db.unit_of_work() as s:
        assert s.scalars(select(Conversation.chat_key)).all() == ["test:new"]
    rt.close()


def test_changed_content_is_not_served(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    root = tmp_path / "content"
    shutil.copytree(settings.content_dir, root)
    path = root / "topics" / "complaint.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "Det er gratis at klage.", "Det er gratis at klage!", 1
        ),
        encoding="utf-8",
    )
    rt = build(settings.model_copy(update={"content_dir": root}))
    try:
        replies = say(rt, "kan jeg klage over kommunen")
        assert "complaint" not in topics(replies)
        assert rt.content.helplines.by_id()["boernetelefonen"].phone in joined(replies)
    finally:
        rt.close()
