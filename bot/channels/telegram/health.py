"""``GET /healthz``: is the bot running, and can it reach its database? JSON, 200 or 503.

Served on its own port (the webhook port is PTB's, and serves Telegram only). Says nothing
about any child.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import tornado.httpserver
import tornado.web

Check = Callable[[], Awaitable[dict[str, bool]]]


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, check: Check, mode: str) -> None:
        self.check = check
        self.mode = mode

    async def get(self) -> None:
        try:
            results = await asyncio.wait_for(self.check(), timeout=5)
        except Exception:  # any failure is "unavailable"
            results = {"checks": False}
        ok = all(results.values())
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        status = "ok" if ok else "unavailable"
        self.finish(json.dumps({"status": status, "mode": self.mode, "checks": results}))


class HealthServer:
    def __init__(self, listen: str, port: int, check: Check, mode: str) -> None:
        self.listen = listen
        self.port = port
        self._app = tornado.web.Application(
            [(r"/healthz/?", _HealthHandler, {"check": check, "mode": mode})],
            log_function=lambda _handler: None,  # no access log: nothing to learn from it
        )
        self._server: tornado.httpserver.HTTPServer | None = None

    def start(self) -> None:
        self._server = self._app.listen(self.port, self.listen)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
