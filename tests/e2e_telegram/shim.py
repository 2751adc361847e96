"""A loopback shim between barnebot and the telegram-test-api emulator (test set-up only).

barnebot talks to the shim exactly as to Telegram (``TELEGRAM_BASE_URL`` points here); the
shim forwards to the emulator and papers over the emulator's known gaps with PTB 22, so the
production code runs unchanged and ``node_modules`` stays untouched:

- ``getMe`` lacks ``is_bot``                      → added
- bot-message ``date`` in milliseconds             → seconds
- callback queries lack ``chat_instance``          → added
- ``getUpdates`` ignores ``offset``, no long poll  → the shim keeps the updates it pulled
  and serves them with Telegram's semantics: held until confirmed by a higher ``offset``,
  held open up to ``timeout`` seconds
- edit methods and ``answerCallbackQuery`` return null → ``true``
- a sent message is echoed back with the request's fields as sent, so JSON-encoded ones
  (``link_preview_options``, ``reply_parameters``…) come back as strings → decoded
- ``setMyCommands``, ``sendChatAction`` … not served (HTTP 500) → served and recorded, unless
  ``serve_unserved`` is off (then the emulator's 500 reaches the bot, to test it copes)
- webhooks: the emulator posts without Telegram's secret-token header, so the shim delivers
  to the webhook itself, with the header

It also lets a test do what the emulator cannot: inject any raw update (edited message,
channel post, my_chat_member…), fail the next request with flood control (429), a dropped
connection or "blocked by the user" (403), and go away and come back on the same port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import tornado.httpserver
import tornado.web

#: methods the emulator does not serve; the shim answers them
UNSERVED: Mapping[str, Any] = {
    "setMyCommands": True,
    "deleteMyCommands": True,
    "sendChatAction": True,
    "setChatMenuButton": True,
    "setMyDescription": True,
    "setMyShortDescription": True,
}
#: methods the emulator answers with a null result where Telegram says true
NULL_IS_TRUE = frozenset(
    {"answerCallbackQuery", "editMessageText", "editMessageReplyMarkup", "deleteMessage"}
)
_MILLIS = 10**11  # a Unix time in seconds stays below this until the year 5138


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Fault:
    """How to fail one request instead of forwarding it (so it never reaches the emulator)."""

    status: int | None  # None: drop the connection without an answer
    body: dict[str, Any] | None = None

    @classmethod
    def retry_after(cls, seconds: int) -> Fault:
        return cls(
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {seconds}",
                "parameters": {"retry_after": seconds},
            },
        )

    @classmethod
    def network(cls) -> Fault:
        return cls(None)

    @classmethod
    def blocked(cls) -> Fault:
        return cls(
            403,
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            },
        )

    @classmethod
    def server_error(cls) -> Fault:
        return cls(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})


@dataclass
class _Armed:
    method: str
    fault: Fault
    remaining: int
    chat_id: str | None


def fix_dates(value: Any) -> Any:
    """Every ``date``/``edit_date`` given in milliseconds, in seconds (recursively)."""
    if isinstance(value, dict):
        return {
            k: (
                v // 1000
                if k in ("date", "edit_date") and isinstance(v, int) and v > _MILLIS
                else fix_dates(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [fix_dates(v) for v in value]
    return value


def fix_update(update: dict[str, Any]) -> dict[str, Any]:
    update = fix_dates(update)
    for kind in ("message", "edited_message", "channel_post", "edited_channel_post"):
        if isinstance(update.get(kind), dict):
            update[kind].pop("botToken", None)
    query = update.get("callback_query")
    if isinstance(query, dict):
        query.pop("botToken", None)
        chat = (query.get("message") or {}).get("chat") or {}
        query.setdefault("chat_instance", f"emulator-{chat.get('id', 0)}")
    return update


def fix_echo(message: Any) -> Any:
    """The emulator echoes a sent message's form fields: JSON objects arrive as strings."""
    if not isinstance(message, dict):
        return message
    return {
        k: (
            _decode(v)
            if isinstance(v, str) and k not in ("text", "caption") and v[:1] in ("{", "[")
            else v
        )
        for k, v in message.items()
    }


def _decode(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class BotApiShim:
    def __init__(self, upstream: str, token: str, *, serve_unserved: bool = True) -> None:
        self.upstream = upstream.rstrip("/")
        self.token = token
        self.serve_unserved = serve_unserved
        self.port = free_port()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._buffer: list[dict[str, Any]] = []
        self._faults: list[_Armed] = []
        self._calls: dict[str, list[dict[str, Any]]] = {}
        self._commands: Any = []
        self.webhook: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self._client: httpx.AsyncClient | None = None
        self._pull_lock: asyncio.Lock | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._closing = False

    # -- what tests use -------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``TELEGRAM_BASE_URL`` for the bot."""
        return f"http://127.0.0.1:{self.port}/bot"

    def inject(self, update: dict[str, Any]) -> int:
        """Queue a raw update (any type) for the bot; returns its update_id."""
        with self._lock:
            update_id = next(self._ids)
            self._buffer.append(fix_update({**update, "update_id": update_id}))
        return update_id

    def fail(
        self, method: str, fault: Fault, *, times: int = 1, chat_id: int | None = None
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (for ``chat_id`` only, if given)."""
        with self._lock:
            self._faults.append(
                _Armed(method, fault, times, None if chat_id is None else str(chat_id))
            )

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = []

    def armed(self) -> int:
        with self._lock:
            return sum(a.remaining for a in self._faults)

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls.get(method, []))

    def pending(self) -> int:
        with self._lock:
            return len(self._buffer)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                loop.run_until_complete(self._startup())
            except BaseException as error:  # reported to start()
                errors.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._closing = False
        self._thread = threading.Thread(target=run, name="bot-api-shim", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]

    def stop(self) -> None:
        """Close the port and every open connection; state (updates, records) is kept."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._loop = self._thread = None

    async def _startup(self) -> None:
        self._client = httpx.AsyncClient(timeout=10)
        self._pull_lock = asyncio.Lock()
        app = tornado.web.Application(
            [
                (r"/bot([^/]+)/([A-Za-z]+)", _ApiHandler, {"shim": self}),
                (r"/file/bot([^/]+)/(.*)", _NotFound),
            ],
            log_function=lambda _handler: None,
        )
        self._server = app.listen(self.port, "127.0.0.1")
        if self.webhook is not None:
            self._delivery = asyncio.create_task(self._deliver())

    async def _shutdown(self) -> None:
        self._closing = True
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the Bot API, as Telegram would answer ------------------------------------------
    def take_fault(self, method: str, params: Mapping[str, Any]) -> Fault | None:
        with self._lock:
            for armed in self._faults:
                if armed.method != method or armed.remaining <= 0:
                    continue
                if armed.chat_id is not None and str(params.get("chat_id")) != armed.chat_id:
                    continue
                armed.remaining -= 1
                self._faults = [a for a in self._faults if a.remaining > 0]
                return armed.fault
        return None

    def record(self, method: str, params: Mapping[str, Any]) -> None:
        with self._lock:
            self._calls.setdefault(method, []).append({"_at": time.monotonic(), **params})

    async def pull(self) -> None:
        """Move the emulator's new updates (it forgets them once read) into the buffer."""
        if self._closing or self._client is None or self._pull_lock is None:
            return
        async with self._pull_lock:
            response = await self._client.post(f"{self.upstream}/bot{self.token}/getUpdates")
            updates = response.json().get("result") or []
            with self._lock:
                for update in updates:
                    update["update_id"] = next(self._ids)
                    self._buffer.append(fix_update(update))

    async def get_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        with self._lock:
            self._buffer = [u for u in self._buffer if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            await self.pull()
            with self._lock:
                ready = [u for u in self._buffer if u["update_id"] >= offset][:limit]
            if ready or time.monotonic() >= deadline or self._closing:
                return ready
            await asyncio.sleep(0.01)

    async def forward(self, method: str, body: bytes, content_type: str) -> tuple[int, Any]:
        assert self._client is not None
        response = await self._client.post(
            f"{self.upstream}/bot{self.token}/{method}",
            content=body,
            headers={"Content-Type": content_type} if content_type else {},
        )
        try:
            data = response.json()
        except ValueError:
            return response.status_code, {"ok": False, "description": response.text}
        if response.status_code == 200 and isinstance(data, dict) and data.get("ok"):
            result = fix_echo(fix_dates(data.get("result")))
            if method == "getMe" and isinstance(result, dict):
                result.setdefault("is_bot", True)
            if result is None and method in NULL_IS_TRUE:
                result = True
            data["result"] = result
        return response.status_code, data

    def serve(self, method: str, params: Mapping[str, Any]) -> Any:
        if method == "setMyCommands":
            self._commands = params.get("commands", [])
        if method == "getMyCommands":
            return self._commands
        return UNSERVED[method]

    def set_webhook(self, params: Mapping[str, Any]) -> None:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token")}
        if self._delivery is None:
            self._delivery = asyncio.create_task(self._deliver())

    def delete_webhook(self) -> None:
        self.webhook = None
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None

    async def _deliver(self) -> None:
        """Telegram's side of a webhook: post each update, in order, with the secret header."""
        assert self._client is not None
        while self.webhook is not None and not self._closing:
            try:
                await self.pull()
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            with self._lock:
                update = self._buffer[0] if self._buffer else None
            if update is None:
                await asyncio.sleep(0.01)
                continue
            headers = {"Content-Type": "application/json"}
            secret = self.webhook.get("secret_token")
            if secret:
                headers["X-Telegram-Bot-Api-Secret-Token"] = str(secret)
            try:
                response = await self._client.post(
                    str(self.webhook["url"]), content=json.dumps(update), headers=headers
                )
                delivered = response.status_code == 200
            except httpx.HTTPError:
                delivered = False
            if delivered:
                with self._lock:
                    self._buffer = [u for u in self._buffer if u is not update]
            else:
                await asyncio.sleep(0.2)


class _NotFound(tornado.web.RequestHandler):
    def get(self, *_args: str) -> None:
        self.set_status(404)
        self.finish({"ok": False, "error_code": 404, "description": "Not Found"})


class _ApiHandler(tornado.web.RequestHandler):
    def initialize(self, shim: BotApiShim) -> None:
        self.shim = shim

    def _params(self) -> dict[str, Any]:
        content_type = self.request.headers.get("Content-Type", "")
        body = self.request.body.decode("utf-8") if self.request.body else ""
        if "json" in content_type and body:
            data = json.loads(body)
            return dict(data) if isinstance(data, dict) else {}
        params: dict[str, Any] = {}
        for key, raw in self.request.query_arguments.items():
            params[key] = _decode(raw[-1].decode("utf-8"))
        for key, values in parse_qs(body).items():
            params[key] = _decode(values[-1])
        return params

    def _reply(self, status: int, data: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    async def get(self, token: str, method: str) -> None:
        await self.post(token, method)

    async def post(self, token: str, method: str) -> None:
        shim = self.shim
        if token != shim.token:
            self._reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return
        params = self._params()
        if method != "getUpdates":
            shim.record(method, params)
        fault = shim.take_fault(method, params)
        if fault is not None:
            if fault.status is None:
                self.detach().close()  # the connection drops, no answer
                return
            self._reply(fault.status, fault.body)
            return
        try:
            if method == "getUpdates":
                self._reply(200, {"ok": True, "result": await shim.get_updates(params)})
            elif (method in UNSERVED and shim.serve_unserved) or method == "getMyCommands":
                self._reply(200, {"ok": True, "result": shim.serve(method, params)})
            elif method == "setWebhook":
                shim.set_webhook(params)
                self._reply(200, {"ok": True, "result": True})
            elif method == "deleteWebhook":
                shim.delete_webhook()
                self._reply(200, {"ok": True, "result": True})
            elif method == "getWebhookInfo":
                info = {
                    "url": (shim.webhook or {}).get("url") or "",
                    "has_custom_certificate": False,
                    "pending_update_count": shim.pending(),
                }
                self._reply(200, {"ok": True, "result": info})
            else:
                content_type = self.request.headers.get("Content-Type", "")
                status, data = await shim.forward(method, self.request.body, content_type)
                self._reply(status, data)
        except httpx.HTTPError:
            self._reply(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
