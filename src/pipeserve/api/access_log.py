"""One JSON log line per request, and optional sampled request bodies.

The line carries what operators search by (method, path, status, duration, model, version,
request id) and never the body: bodies hold customer data. ``PIPESERVE_LOG_PAYLOAD_EVERY=N``
adds the first 2 KiB of the body of one request in N, for debugging where the log store may
hold such data.
"""

from __future__ import annotations

import itertools
import logging
import time

from flask import Flask, Response, g, request

from pipeserve.api.context import MODEL_VERSION_HEADER
from pipeserve.settings import Settings

logger = logging.getLogger("pipeserve.access")

PAYLOAD_LOG_BYTES = 2048


def install_access_log(app: Flask, settings: Settings) -> None:
    """Log every request of ``app`` when the access log is on."""
    if not settings.access_log:
        return
    every = settings.log_payload_every
    counter = itertools.count(1)

    def start() -> None:
        g.access_started = time.perf_counter()
        # Decided before the body is read, so that the body is kept only when it will be logged.
        g.keep_body = bool(every) and next(counter) % every == 0

    def log(response: Response) -> Response:
        started = g.get("access_started")
        if started is None:
            return response
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "model": (request.view_args or {}).get("name"),
            "version": response.headers.get(MODEL_VERSION_HEADER),
            "request_id": g.get("request_id"),
        }
        if g.get("keep_body"):
            fields["payload"] = request.get_data(cache=True)[:PAYLOAD_LOG_BYTES].decode(
                "utf-8", "replace"
            )
        logger.info("request", extra=fields)
        return response

    app.before_request(start)
    app.after_request(log)
