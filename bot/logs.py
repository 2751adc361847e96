"""Structured logging. Records carry event names and ids, never a child's words or names."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        document.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            # The class only: exception messages can quote input.
            document["error"] = record.exc_info[0].__name__
        return json.dumps(document, ensure_ascii=False, default=str)


#: libraries whose INFO/DEBUG lines carry data: SQL parameters (a child's message) or
#: request URLs (the Telegram bot token). They log warnings and errors only, at any level.
NOISY_LOGGERS = ("sqlalchemy", "httpx", "httpcore", "aiosmtplib", "mail.log", "asyncio")


def configure_logging(level: int = logging.WARNING, *, quiet_libraries: bool = True) -> None:
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS if quiet_libraries else ():
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
