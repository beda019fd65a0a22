"""Logging set-up: JSON lines for log collectors, or plain text for a terminal.

Called by the entry points (app factory, CLI), never at import.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        document.update(
            {
                k: v
                for k, v in record.__dict__.items()
                if k not in _RESERVED and not k.startswith("_")
            }
        )
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send pipeserve's logs to stderr in ``fmt``; idempotent (safe to call per app)."""
    logger = logging.getLogger("pipeserve")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if getattr(h, "_pipeserve", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._pipeserve = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
