"""Logging set-up: JSON lines for log collectors, or plain text for a terminal.

Called by the entry points (app factory, CLI), never at import. :class:`JsonLines` writes the
access log's lines without the ``logging`` machinery when nothing but pipeserve's own JSON
handler would see them (one line per request is the hottest log call there is).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import orjson

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_ROOT = "pipeserve"


def _timestamp(created: float) -> str:
    """``created`` as the JSON lines give it: 2026-12-02T00:40:18.529+00:00."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record.created),
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


class JsonLines:
    """INFO lines of one ``pipeserve.*`` logger, each written with one ``write(2)``.

    Byte for byte what :class:`JsonFormatter` writes, without a ``LogRecord``, the handler's
    lock or its flush: that lock is held across the write, so under load the threads of a
    worker queue behind whichever of them waits for the GIL to finish its write. Used only
    while pipeserve's JSON handler is the one place the line goes (checked per line: tests and
    operators may add handlers, or let records propagate, at any time); otherwise the line goes
    through ``logging`` as usual.
    """

    def __init__(self, name: str, message: str) -> None:
        self.logger = logging.getLogger(name)
        self._root = logging.getLogger(_ROOT)
        self._message = message
        self._second = -1
        self._prefix = ""

    def info(self, fields: dict[str, Any]) -> None:
        """Log ``fields`` (as a record's ``extra``) at INFO."""
        fd = self._direct_fd()
        if fd is None:
            self.logger.info(self._message, extra=fields)
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # the date and time to the second, formatted once a second
            self._prefix = _timestamp(second)[:19]
            self._second = second
        millis = int((now - second) * 1000)
        document = {
            "time": f"{self._prefix}.{millis:03d}+00:00",
            "level": "INFO",
            "logger": self.logger.name,
            "message": self._message,
            **fields,
        }
        os.write(fd, orjson.dumps(document, default=str, option=orjson.OPT_APPEND_NEWLINE))

    def _direct_fd(self) -> int | None:
        logger, root = self.logger, self._root
        if logger.handlers or root.propagate or not logger.isEnabledFor(logging.INFO):
            return None
        if logger.parent is not root or not logger.propagate or len(root.handlers) != 1:
            return None
        handler = root.handlers[0]
        if not getattr(handler, "_pipeserve", False) or handler.filters or logger.filters:
            return None
        if not isinstance(handler.formatter, JsonFormatter) or handler.level > logging.INFO:
            return None
        stream = getattr(handler, "stream", None)
        try:
            return int(stream.fileno()) if stream is not None else None
        except (AttributeError, OSError, ValueError):  # a stream without a descriptor
            return None


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send pipeserve's logs to stderr in ``fmt``; idempotent (safe to call per app)."""
    logger = logging.getLogger(_ROOT)
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
