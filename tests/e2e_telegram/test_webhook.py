"""Webhook mode: Telegram's secret token checked on every request, and the health endpoint."""

from __future__ import annotations

import httpx

from .child import joined
from .conftest import StackFactory, requires_emulator
from .shim import free_port

pytestmark = requires_emulator

SECRET = "e2e_Secret-token-0123"


def test_webhook_mode_answers_only_telegram(own_stack: StackFactory) -> None:
    port, health = free_port(), free_port()
    hook = f"http://127.0.0.1:{port}/telegram/hook"
    stack = own_stack(
        BARNEBOT_WEBHOOK_URL=hook,
        BARNEBOT_WEBHOOK_LISTEN="127.0.0.1",
        BARNEBOT_WEBHOOK_PORT=str(port),
        BARNEBOT_WEBHOOK_SECRET=SECRET,
        BARNEBOT_HEALTH_PORT=str(health),
    )
    assert stack.shim.webhook == {"url": hook, "secret_token": SECRET}

    # Telegram (the shim, with the secret header) reaches the bot; a child is answered.
    replies = stack.child().ask("/start")
    assert "robot" in joined(replies).lower()

    # Anyone else is turned away: no header, or the wrong secret.
    chat = {"id": 1, "type": "private"}
    update = {
        "update_id": 999_999,
        "message": {"message_id": 1, "date": 0, "text": "/start", "chat": chat},
    }
    with httpx.Client(timeout=5) as http:
        assert http.post(hook, json=update).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
        assert http.post(hook, json=update, headers=wrong).status_code == 403

        status = http.get(f"http://127.0.0.1:{health}/healthz")
    assert status.status_code == 200
    assert status.json() == {
        "status": "ok",
        "mode": "webhook",
        "checks": {"running": True, "database": True},
    }
    assert stack.bot.stop() == 0


def test_polling_mode_has_a_health_endpoint_when_asked(own_stack: StackFactory) -> None:
    health = free_port()
    stack = own_stack(BARNEBOT_HEALTH_PORT=str(health))
    with httpx.Client(timeout=5) as http:
        status = http.get(f"http://127.0.0.1:{health}/healthz")
    assert status.status_code == 200 and status.json()["mode"] == "polling"
    assert stack.shim.webhook is None
