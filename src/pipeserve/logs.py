"""Logging set-up: JSON lines for log collectors, or plain text for a terminal.

Called by the entry points (app factory, CLI), never at import. :class:`JsonLines` writes the
access log's lines without the ``logging`` machinery when nothing but pipeserve's own JSON
handler would see them (one line per request is the hottest log call there is).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing.util
import os
import threading
import time
import weakref
from collections import deque
from datetime import UTC, datetime
from typing import IO, Any

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


class LineWriter:
    """Lines for one file descriptor, written by a background thread every ``interval`` seconds
    in one ``write(2)`` each time, as nginx buffers its access log (``buffer=``, ``flush=``).

    Why: ``write(2)`` releases the GIL, and under load each release is a hand-off to one of the
    threads waiting for it: one write per request cost a fifth of a worker's throughput at 64
    concurrent clients (``make bench``). A line waits at most ``interval`` (50 ms); lines are
    flushed at interpreter exit (a graceful stop) and by :func:`flush_lines` (a worker that is
    about to be ended). When ``max_pending`` lines wait (the descriptor blocks), the writing
    thread writes them itself, so memory stays bounded.
    """

    def __init__(self, stream: IO[str], interval: float = 0.05, max_pending: int = 10_000) -> None:
        self.stream = stream
        self._pending: deque[bytes] = deque()
        self._interval = interval
        self._max_pending = max_pending
        self._lock = threading.Lock()  # one writer at a time keeps the lines in order
        self._thread: threading.Thread | None = None

    def write(self, line: bytes) -> None:
        """Queue ``line`` (deque.append is atomic: nothing is lost whichever thread flushes)."""
        pending = self._pending
        pending.append(line)
        if self._thread is None:
            self._start()
        if len(pending) >= self._max_pending:
            self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        with self._lock:
            pending, lines = self._pending, []
            while pending:
                lines.append(pending.popleft())
            if lines:
                data = b"".join(lines)
                fd = self.stream.fileno()  # ValueError once the stream is closed: dropped
                while data:
                    data = data[os.write(fd, data) :]

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="pipeserve-log-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                self.flush()
            except (OSError, ValueError):  # the stream went away: drop, as logging does
                self._pending.clear()


_WRITERS: weakref.WeakSet[LineWriter] = weakref.WeakSet()
_WRITERS_LOCK = threading.Lock()
_WRITER_ATTRIBUTE = "_pipeserve_line_writer"


def _writer(stream: IO[str]) -> LineWriter:
    """The writer of ``stream`` (one per stream object: a stream closed and another opened on
    the same descriptor number never receives the first one's lines)."""
    writer: LineWriter | None = getattr(stream, _WRITER_ATTRIBUTE, None)
    if writer is None:
        with _WRITERS_LOCK:
            writer = getattr(stream, _WRITER_ATTRIBUTE, None)
            if writer is None:
                if not _WRITERS:
                    # A granian worker is a multiprocessing child, which ends with os._exit
                    # after multiprocessing's finalizers, never running atexit's.
                    atexit.register(flush_lines)
                    multiprocessing.util.Finalize(None, flush_lines, exitpriority=100)
                writer = LineWriter(stream)
                setattr(stream, _WRITER_ATTRIBUTE, writer)
                _WRITERS.add(writer)
    return writer


def flush_lines() -> None:
    """Write every queued access-log line now (before a worker ends itself, in tests)."""
    for writer in list(_WRITERS):
        with contextlib.suppress(OSError, ValueError):
            writer.flush()


class JsonLines:
    """INFO lines of one ``pipeserve.*`` logger, written by a :class:`LineWriter`.

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
        stream = self._direct_stream()
        if stream is None:
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
        _writer(stream).write(orjson.dumps(document, default=str, option=orjson.OPT_APPEND_NEWLINE))

    def _direct_stream(self) -> IO[str] | None:
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
            stream.fileno()  # type: ignore[union-attr]
        except (AttributeError, OSError, ValueError):  # a stream without a descriptor
            return None
        return stream


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
