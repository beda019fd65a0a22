"""One JSON log line per request, and optional sampled request bodies.

The line carries what operators search by (method, path, status, duration, model, version,
request id) and never the body: bodies hold customer data. ``PIPESERVE_LOG_PAYLOAD_EVERY=N``
adds the first 2 KiB of the body of one request in N, for debugging where the log store may
hold such data.
"""

from __future__ import annotations

import itertools
import time

from flask import Response, g, request

from pipeserve.api.context import MODEL_VERSION_HEADER, RequestCycle
from pipeserve.logs import JsonLines
from pipeserve.settings import Settings

LOGGER = "pipeserve.access"
PAYLOAD_LOG_BYTES = 2048
FEATURE = "access log"


class AccessLog:
    """Writes the access log's lines (the Flask cycle's and the prediction lane's)."""

    def __init__(self) -> None:
        self._lines = JsonLines(LOGGER, "request")

    def write(
        self,
        *,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        model: str | None,
        version: str | None,
        request_id: str | None,
        payload: str | None = None,
    ) -> None:
        """Log one answered request (``payload``: the start of its body, when sampled)."""
        fields: dict[str, object] = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "model": model,
            "version": version,
            "request_id": request_id,
        }
        if payload is not None:
            fields["payload"] = payload
        self._lines.info(fields)


def install_access_log(cycle: RequestCycle, settings: Settings) -> AccessLog | None:
    """Log every request of the app of ``cycle`` when the access log is on. Returns the log
    (``None`` when it is off) for the prediction lane."""
    if not settings.access_log:
        return None
    access_log = AccessLog()
    clock = time.perf_counter
    every = settings.log_payload_every
    if every:
        counter = itertools.count(1)

        def sample() -> None:
            # Decided before the body is read, so that the body is kept only when it is logged.
            g.keep_body = next(counter) % every == 0

        cycle.on_start(FEATURE, sample)

    def log(response: Response) -> None:
        started = g.get("started")
        if started is None:
            return
        view_args = request.view_args
        payload = None
        if every and g.get("keep_body"):
            payload = request.get_data(cache=True)[:PAYLOAD_LOG_BYTES].decode("utf-8", "replace")
        access_log.write(
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=round((clock() - started) * 1000, 3),
            model=view_args.get("name") if view_args else None,
            version=response.headers.get(MODEL_VERSION_HEADER),
            request_id=g.get("request_id"),
            payload=payload,
        )

    cycle.on_finish(FEATURE, log)
    return access_log
