"""Polling that survives an update python-telegram-bot cannot read.

PTB parses a whole ``getUpdates`` batch at once; one update it cannot read fails the batch,
the offset never moves on, and the bot fetches the same batch forever: no child is answered
any more. That happens for real: PTB 22.8 refuses a poll without fields added in Bot API
9.6/10.0, so a self-hosted Bot API server one version behind would stall the bot on the first
poll a child forwards. This request class, used for ``getUpdates`` only, replaces such an
update with an empty one carrying its ``update_id`` (no handler matches it), logs the id and
the error class, and polling goes on.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest, RequestData

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]


def readable(raw: Any) -> JSONDict:
    """``raw`` when PTB can read it, else a stub with only its ``update_id``."""
    try:
        Update.de_json(raw, None)
    except Exception as error:  # whatever PTB raises, the batch must go on
        update_id = raw.get("update_id") if isinstance(raw, dict) else None
        log.error(
            "update not understood; skipped",
            extra={"update_id": update_id, "error": type(error).__name__},
        )
        return {"update_id": update_id if isinstance(update_id, int) else 0}
    return dict(raw)


def tolerate(payload: bytes) -> bytes:
    """A ``getUpdates`` answer with every unreadable update replaced by a stub."""
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    result = document.get("result") if isinstance(document, dict) else None
    if not isinstance(result, list):
        return payload
    fixed = [readable(update) for update in result]
    if fixed == result:
        return payload
    document["result"] = fixed
    return json.dumps(document).encode("utf-8")


class TolerantUpdatesRequest(HTTPXRequest):
    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        code, payload = await super().do_request(url, method, request_data, *args, **kwargs)
        if code == 200 and url.endswith("/getUpdates"):
            payload = tolerate(payload)
        return code, payload
