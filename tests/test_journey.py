"""The whole journey of issue 4, with every real part: staff CLI → invite code → child links in
the chat → "who is my caseworker" → message → outbox → SMTP (a real aiosmtpd on loopback) →
receipt "sendt til Mette" in the chat."""

from __future__ import annotations

import json

from bot.config import Settings

from .smtp_server import LocalSmtp
from .test_cli import run


def chat(env: dict[str, str], *lines: dict[str, str]) -> list[list[str]]:
    """One `barnebot chat --json` session; the reply texts per input line."""
    result = run(["chat", "--json"], env, "".join(json.dumps(x) + "\n" for x in lines))
    assert result.returncode == 0, result.stderr
    return [[r["text"] for r in json.loads(line)["replies"]] for line in result.stdout.splitlines()]


def test_invite_link_card_message_mail_receipt(
    cli_env: dict[str, str], settings: Settings, smtp: LocalSmtp
) -> None:
    env = {
        **cli_env,
        "BARNEBOT_SECRET_KEY": "journey-test-key-0123456789",
        "BARNEBOT_SMTP_HOST": smtp.host,
        "BARNEBOT_SMTP_PORT": str(smtp.port),
        "BARNEBOT_SMTP_SECURITY": "none",
        "BARNEBOT_MAIL_FROM": "barnebot <noreply@barnebot.example>",
    }
    assert (
        run(
            [
                "caseworker",
                "add",
                "--name",
                "Mette Hansen",
                "--email",
                "mette@aarhus.example",
                "--municipality",
                "Aarhus",
                "--office-hours",
                "man-tor 9-15",
            ],
            env,
        ).returncode
        == 0
    )
    invite = json.loads(
        run(
            [
                "invite",
                "create",
                "--caseworker",
                "mette@aarhus.example",
                "--child-name",
                "Alfa",
                "--json",
            ],
            env,
        ).stdout
    )
    start = invite["link"].split("?start=")[1]

    linked, card, intro, preview, saved = chat(
        env,
        {"text": f"/start {start}", "chat": "ida"},
        {"text": "hvem er min sagsbehandler", "chat": "ida"},
        {"text": "jeg vil skrive til hende", "chat": "ida"},
        {
            "text": "Kan du ringe til mig efter skole? Jeg vil gerne snakke om samvær.",
            "chat": "ida",
        },
        {"button": "message:send", "chat": "ida"},
    )
    assert any("Mette" in t for t in linked)
    assert any("Mette Hansen" in t and "mandag–torsdag kl. 9.00–15.00" in t for t in card)
    assert any("hemmeligt" in t for t in intro)
    assert any("samvær" in t for t in preview)
    assert any("gemt" in t for t in saved)
    (other,) = chat(env, {"text": "hvem er min rådgiver", "chat": "noah"})
    assert not any("Mette" in t for t in other)

    sent = run(["forward", "--once"], env)
    assert sent.returncode == 0, sent.stderr
    (mail,) = smtp.wait_for(1)
    assert mail.rcpt_tos == ("mette@aarhus.example",)
    assert "Kan du ringe til mig efter skole?" in mail.part("plain")
    assert "Alfa" in mail.subject
    status = json.loads(run(["outbox", "status", "--json"], env).stdout)
    assert status["counts"]["sent"] == 1

    (receipt,) = chat(env, {"text": "hej", "chat": "ida"})
    assert any("sendt til Mette" in t for t in receipt)
