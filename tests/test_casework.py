"""Who is my caseworker, invite codes and messages: through the real dialogue and database."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.casework import codes
from bot.casework import service as casework
from bot.casework.hours import format_hours
from bot.dialogue.messages import Reply, UserMessage
from bot.runtime import Runtime
from bot.storage.models import ChildLink, CodeAttempt, Conversation, OutboxMessage, utcnow

from .test_cli import run


def say(rt: Runtime, text: str, chat: str = "tg:1") -> list[Reply]:
    return rt.assistant.handle(UserMessage(chat, text=text))


def press(rt: Runtime, payload: str, chat: str = "tg:1") -> list[Reply]:
    return rt.assistant.handle(UserMessage(chat, button=payload))


def text_of(replies: list[Reply]) -> str:
    return "\n".join(r.text for r in replies)


def add_worker(rt: Runtime, name: str, email: str, **extra: str) -> None:
    with rt.db.unit_of_work() as s:
        casework.add_caseworker(s, name=name, email=email, **extra)


def invite(rt: Runtime, email: str, child: str | None = None, days: int = 30) -> str:
    with rt.db.unit_of_work() as s:
        code, _ = casework.create_invite(
            s, caseworker_email=email, key=rt.assistant.code_key, child_name=child, days=days
        )
    return codes.display(code)


@pytest.fixture
def mette(runtime: Runtime) -> Runtime:
    add_worker(
        runtime,
        "Mette Hansen",
        "mette@kommune.example",
        phone="87 13 00 00",
        title="børne- og ungerådgiver",
        municipality_code="751",
        office_hours="man-tor 9-15; fre 9-12",
    )
    add_worker(runtime, "Jonas Berg", "jonas@kommune.example", municipality_code="101")
    return runtime


def test_codes_have_enough_entropy_and_no_look_alikes() -> None:
    assert codes.ENTROPY_BITS >= 40
    assert not set("IL1O0") & set(codes.ALPHABET)
    made = {codes.generate() for _ in range(2000)}
    assert len(made) == 2000
    # Every code is recognised however a child types it: lower case, dash, spaces. (A code
    # of letters only, typed in lower case, once looked like an ordinary word: ~5 % of codes.)
    for made_code in made:
        for typed in (made_code, made_code.lower(), codes.display(made_code).lower()):
            assert codes.looks_like_code(typed), typed
            assert codes.normalise(typed) == made_code
    code = made.pop()
    assert codes.normalise(codes.display(code).lower()) == code
    assert codes.normalise(f" {code[:5]} {code[5:]} ") == code


def test_office_hours_in_danish_with_babel() -> None:
    rows = format_hours("man-tor 9-15; fre 9:00-12:30")
    assert rows[0] == {
        "first_day": "mandag",
        "last_day": "torsdag",
        "start": "9.00",
        "end": "15.00",
    }
    assert rows[1]["first_day"] == "fredag" and rows[1]["end"] == "12.30"


def test_typed_code_links_and_card_shows_only_my_caseworker(mette: Runtime) -> None:
    code = invite(mette, "mette@kommune.example", child="Alfa")
    linked = say(mette, code.lower())
    assert "Mette" in text_of(linked) and "Hansen" not in text_of(linked)
    card = say(mette, "hvem er min rådgiver")
    text = text_of(card)
    for part in (
        "Mette Hansen",
        "87 13 00 00",
        "mette@kommune.example",
        "Aarhus",
        "mandag–torsdag kl. 9.00–15.00",
    ):
        assert part in text, part
    payloads = [b.payload for r in card for b in r.buttons]
    assert "topic:leave_message" in payloads
    other = say(mette, "hvem er min rådgiver", chat="tg:2")
    assert "Mette" not in text_of(other) and "mette@" not in text_of(other)


def test_deep_link_start_code_links(mette: Runtime) -> None:
    code = invite(mette, "jonas@kommune.example").replace("-", "")
    replies = say(mette, f"/start {code}")
    assert "Jonas" in text_of(replies)
    assert "Jonas" in text_of(say(mette, "hej"))  # a linked child is greeted with the name


def test_code_is_single_use(mette: Runtime) -> None:
    code = invite(mette, "mette@kommune.example")
    say(mette, code, chat="tg:a")
    reused = say(mette, code, chat="tg:b")
    assert "virker ikke" in text_of(reused)
    with mette.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(ChildLink)) == 1


def test_expired_and_revoked_codes_do_not_link(mette: Runtime) -> None:
    old = invite(mette, "mette@kommune.example")
    with mette.db.unit_of_work() as s:
        for row in s.scalars(select(casework.InviteCode)):
            row.expires_at = utcnow() - timedelta(seconds=1)
    assert "virker ikke" in text_of(say(mette, old))
    revoked = invite(mette, "mette@kommune.example")
    with mette.db.unit_of_work() as s:
        assert casework.revoke_invite(s, revoked, mette.assistant.code_key)
    assert "virker ikke" in text_of(say(mette, revoked))


def test_guessing_codes_locks_the_chat_out(mette: Runtime) -> None:
    good = invite(mette, "mette@kommune.example")
    for _ in range(casework.PER_CHAT_FAILURES):
        assert "virker ikke" in text_of(say(mette, codes.display(codes.generate())))
    locked = say(mette, good)
    assert "Vent en time" in text_of(locked)
    with mette.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(ChildLink)) == 0
    # another child is not locked out by this one's guesses
    assert "Mette" in text_of(say(mette, good, chat="tg:other"))


def test_global_limit_stops_a_distributed_guesser(mette: Runtime) -> None:
    with mette.db.unit_of_work() as s:
        s.add_all(
            CodeAttempt(chat_key=f"tg:bot{i}", success=False)
            for i in range(casework.GLOBAL_FAILURES)
        )
    good = invite(mette, "mette@kommune.example")
    assert "Prøv igen om lidt" in text_of(say(mette, good, chat="tg:new"))


def test_leave_message_form_stores_before_saying_saved(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example", child="Alfa"))
    intro = say(mette, "jeg vil skrive til min rådgiver")
    assert "Mette" in text_of(intro) and "hemmeligt" in text_of(intro)
    preview = say(mette, "Kan du ringe til mig i morgen? {{ 7*7 }}")
    assert "{{ 7*7 }}" in text_of(preview)  # the child's words are data, never a template
    changed = press(mette, "message:edit")
    assert changed
    say(mette, "Kan du ringe til mig i morgen efter skole?")
    saved = press(mette, "message:send")
    assert "gemt" in text_of(saved)
    with mette.db.unit_of_work() as s:
        (msg,) = s.scalars(select(OutboxMessage)).all()
        assert msg.body == "Kan du ringe til mig i morgen efter skole?"
        assert msg.recipient == "mette@kommune.example" and msg.display_name == "Alfa"
        assert msg.status == "pending" and not msg.urgent
    again = press(mette, "message:send")  # a stale second press sends nothing twice
    assert again
    with mette.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_receipt_sendt_til_mette_after_delivery(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"))
    say(mette, "skriv en besked")
    say(mette, "hej mette")
    press(mette, "message:send")
    with mette.db.unit_of_work() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        msg.status, msg.sent_at = "sent", utcnow()
    receipt = say(mette, "tak")
    assert "sendt til Mette" in text_of(receipt)
    assert "sendt til" not in text_of(say(mette, "hej"))  # told once


def test_message_after_the_emergency_answer_is_urgent(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"))
    assert any(r.urgent for r in say(mette, "min stedfar slår mig"))
    press(mette, "topic:leave_message")
    say(mette, "jeg tør ikke sove hjemme i nat")
    press(mette, "message:send")
    with mette.db.unit_of_work() as s:
        assert s.scalars(select(OutboxMessage.urgent)).one() is True


def test_danger_written_inside_the_message_is_answered_and_kept(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"))
    say(mette, "jeg vil sende en besked til min rådgiver")
    replies = say(mette, "min far slår mig når han er fuld")
    assert any(r.urgent for r in replies)
    assert "min far slår mig" in text_of(replies)  # the preview: nothing lost
    press(mette, "message:send")
    with mette.db.unit_of_work() as s:
        assert s.scalars(select(OutboxMessage.urgent)).one() is True


def test_unlinked_child_without_general_address_is_told_honestly(mette: Runtime) -> None:
    replies = say(mette, "jeg vil skrive til min rådgiver")
    assert [r.topic for r in replies if r.topic] == ["leave_message"]
    assert "kode" in text_of(replies)
    with mette.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_unlinked_child_writes_to_the_municipality_general_address(mette: Runtime) -> None:
    with mette.db.unit_of_work() as s:
        casework.set_general_email(s, "461", "boern@odense.example")
    say(mette, "jeg bor i odense")
    intro = say(mette, "jeg vil skrive en besked")
    assert "Odense Kommune" in text_of(intro)
    say(mette, "hej, jeg har brug for hjælp")
    press(mette, "message:send")
    with mette.db.unit_of_work() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        assert msg.recipient == "boern@odense.example" and msg.caseworker_id is None


def test_reassigned_caseworker_is_announced_once(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"))
    with mette.db.unit_of_work() as s:
        link = s.scalars(select(ChildLink)).one()
        casework.reassign(s, link.id, "jonas@kommune.example")
    news = say(mette, "hej")
    assert "ny rådgiver" in text_of(news) and "Jonas Berg" in text_of(news)
    assert "ny rådgiver" not in text_of(say(mette, "hej igen"))
    assert "Jonas" in text_of(say(mette, "hvem er min rådgiver"))


def test_delete_removes_link_and_undelivered_messages(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"))
    say(mette, "skriv til rådgiver")
    say(mette, "en besked")
    press(mette, "message:send")
    say(mette, "/slet")
    started = time.perf_counter()
    press(mette, "delete:yes")
    assert time.perf_counter() - started < 5
    with mette.db.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(ChildLink)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0


def test_admin_cli_journey(cli_env: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**cli_env, "BARNEBOT_SECRET_KEY": "cli-test-key-0123456789"}
    added = run(
        [
            "caseworker",
            "add",
            "--name",
            "Mette Hansen",
            "--email",
            "m@k.example",
            "--municipality",
            "Aarhus",
            "--office-hours",
            "man-fre 9-14",
            "--json",
        ],
        env,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["municipality"] == "751"
    csv_file = tmp_path / "staff.csv"
    csv_file.write_text(
        "name,email,phone,title,municipality,office_hours\n"
        "Jonas Berg,j@k.example,,rådgiver,København,\n",
        encoding="utf-8",
    )
    assert run(["caseworker", "import", str(csv_file)], env).returncode == 0
    listed = json.loads(run(["caseworker", "list", "--json"], env).stdout)["caseworkers"]
    assert [w["email"] for w in listed] == ["m@k.example", "j@k.example"]
    qr = tmp_path / "invite.png"
    made = run(
        [
            "invite",
            "create",
            "--caseworker",
            "m@k.example",
            "--child-name",
            "Alfa",
            "--qr",
            str(qr),
            "--json",
        ],
        env,
    )
    doc = json.loads(made.stdout)
    assert doc["link"].endswith("?start=" + doc["code"].replace("-", ""))
    assert qr.read_bytes().startswith(b"\x89PNG")
    chat = run(["chat", "--json"], env, json.dumps({"text": doc["code"]}) + "\n")
    assert "Mette" in chat.stdout
    children = json.loads(
        run(["child", "list", "--caseworker", "m@k.example", "--json"], env).stdout
    )["children"]
    assert children[0]["display_name"] == "Alfa"
    moved = run(["child", "reassign", str(children[0]["link"]), "--to", "j@k.example"], env)
    assert moved.returncode == 0, moved.stderr
    assert run(["caseworker", "deactivate", "m@k.example"], env).returncode == 0
    refused = run(["invite", "create", "--caseworker", "m@k.example"], env)
    assert refused.returncode == 1 and "deactivated" in refused.stderr
    bad = run(["caseworker", "add", "--name", "X", "--email", "not-an-email"], env)
    assert bad.returncode == 1


def test_message_text_is_encrypted_at_rest_and_keys_rotate(
    mette: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet
    from sqlalchemy import text

    from bot.config import get_settings, secret_key
    from bot.storage import crypto
    from bot.storage.conversations import rotate_keys

    say(mette, invite(mette, "mette@kommune.example"))
    say(mette, "skriv til min rådgiver")
    say(mette, "HEMMELIG besked om min mor")
    with mette.db.unit_of_work() as s:
        draft = s.execute(text("select draft from conversations")).scalar_one()
    assert draft.startswith("gAAAAA") and "HEMMELIG" not in draft
    press(mette, "message:send")
    with mette.db.unit_of_work() as s:
        raw = s.execute(text("select body from outbox")).scalar_one()
        assert raw.startswith("gAAAAA") and "HEMMELIG" not in raw
        assert s.scalars(select(OutboxMessage.body)).one() == "HEMMELIG besked om min mor"
    # rotation: a new key first, the old one still there to read with
    old = crypto.derive_key(secret_key(get_settings()))  # the key used so far
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv("BARNEBOT_MESSAGE_KEYS", f"{new_key},{old}")
    get_settings.cache_clear()
    crypto.keyring.cache_clear()
    try:
        crypto.keyring()  # builds from the new setting
        with mette.db.unit_of_work() as s:
            assert rotate_keys(s) == 1
        with mette.db.unit_of_work() as s:
            rotated = s.execute(text("select body from outbox")).scalar_one()
        assert rotated != raw
        assert Fernet(new_key).decrypt(rotated.encode()).decode() == "HEMMELIG besked om min mor"
    finally:
        monkeypatch.delenv("BARNEBOT_MESSAGE_KEYS")
        get_settings.cache_clear()
        crypto.keyring.cache_clear()


def test_delivered_messages_are_deleted_after_retention(mette: Runtime) -> None:
    from bot.runtime import retention

    say(mette, invite(mette, "mette@kommune.example"))
    for text in ("første", "anden"):
        say(mette, "skriv til min rådgiver")
        say(mette, text)
        press(mette, "message:send")
    days = mette.settings.delivered_retention_days
    with mette.db.unit_of_work() as s:
        old, new = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        old.status, old.sent_at = "sent", utcnow() - timedelta(days=days + 1)
        new.status, new.sent_at = "sent", utcnow()
    retention(mette.db, mette.settings)
    with mette.db.unit_of_work() as s:
        assert s.scalars(select(OutboxMessage.body)).all() == ["anden"]


def test_receipts_can_be_pushed_by_a_channel_once(mette: Runtime) -> None:
    say(mette, invite(mette, "mette@kommune.example"), chat="telegram:5")
    say(mette, "skriv til min rådgiver", chat="telegram:5")
    say(mette, "hej", chat="telegram:5")
    press(mette, "message:send", chat="telegram:5")
    assert mette.assistant.collect_receipts("telegram:") == []  # not sent yet
    with mette.db.unit_of_work() as s:
        msg = s.scalars(select(OutboxMessage)).one()
        msg.status, msg.sent_at = "sent", utcnow()
    assert mette.assistant.collect_receipts("terminal:") == []  # another channel's chats
    ((chat, reply),) = mette.assistant.collect_receipts("telegram:")
    assert chat == "telegram:5" and "sendt til Mette" in reply.text
    assert mette.assistant.collect_receipts("telegram:") == []
    assert "sendt til" not in text_of(say(mette, "hej", chat="telegram:5"))
