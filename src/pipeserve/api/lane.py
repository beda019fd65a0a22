"""The prediction lane: a well-formed prediction answered without Flask's request cycle.

Why: for a one-row prediction Flask's machinery (request context, context-local proxies,
routing, the Response object, hooks) cost more than decoding, predicting and encoding together
(``benchmarks/request_path``). The lane is WSGI middleware in front of Flask that takes the
happy path of the predict routes: it does what the cycle's steps do (request id, in-flight count,
bearer token, request metrics, access log, security and lineage headers), through the same
objects, and answers with the same bytes.

Everything else goes to Flask unchanged: other methods and routes, bodies the lane does not read
(streamed, oversized, V2's binary extension), CORS requests, sampled payload logging. An error
raised on the lane is not rendered here: the request is handed to Flask with the error attached,
and the cycle's last start step (:func:`install_lane`) raises it where a view would have, so every
error is still mapped once (``problems``), counted and logged by the cycle.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header

from pipeserve.api.access_log import AccessLog
from pipeserve.api.auth import Guard
from pipeserve.api.context import (
    MODEL_VERSION_HEADER,
    REQUEST_ID_HEADER,
    ActiveRequests,
    RequestCycle,
    request_id_for,
    require_json,
)
from pipeserve.api.metrics import RequestCounts
from pipeserve.api.prediction import PredictionRoute, prediction_route_of
from pipeserve.api.security import STRICT_TRANSPORT, SecurityHeaders
from pipeserve.api.surfaces import surface_index
from pipeserve.api.wsgi import Environ, StartResponse, WSGIApp
from pipeserve.inference.dataplane import DataPlane
from pipeserve.settings import Settings

RAISED = "pipeserve.lane.raised"
"""The environ key that carries an error raised on the lane into Flask's cycle."""
MAX_KNOWN_PATHS = 1024
"""Paths remembered as predict routes: one per model version and protocol in practice; the
bound keeps a client that invents paths from growing the table."""
_OK = "200 OK"


@dataclass(frozen=True)
class _Match:
    route: PredictionRoute[Any, Any]
    endpoint: str
    rule: str
    name: str
    version: str | None


class PredictionLane:
    """WSGI middleware answering well-formed predictions before they reach Flask (``flask``,
    the app's own ``wsgi_app``)."""

    def __init__(
        self,
        app: Flask,
        flask: WSGIApp,
        *,
        dataplane: DataPlane,
        settings: Settings,
        active: ActiveRequests,
        counts: RequestCounts,
        access_log: AccessLog | None,
        security: SecurityHeaders,
        guard: Guard,
    ) -> None:
        self.flask = flask
        """The app's own ``wsgi_app``: what answers every request the lane does not take."""
        self._plane = dataplane
        self._max_instances = settings.max_instances
        self._max_body_bytes = settings.max_body_bytes
        self._active = active
        self._counts = counts
        self._log = access_log
        self._security = security
        self._guard = guard
        self._access = surface_index(app).access
        # Sampled payload logging keeps the body for the cycle's log step: Flask's job.
        self._enabled = not settings.log_payload_every
        self._adapter = app.url_map.bind("localhost")  # no rule depends on the host
        self._routes = {
            endpoint: route
            for endpoint, view in app.view_functions.items()
            if (route := prediction_route_of(view)) is not None
        }
        self._known: dict[str, _Match] = {}

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not self._enabled or environ.get("REQUEST_METHOD") != "POST":
            return self.flask(environ, start_response)
        path: str = environ.get("PATH_INFO", "")
        match = self._known.get(path) or self._match(path)
        if (
            match is None
            or (match.route.lane_excluded_header or "") in environ
            or (self._security.origins and "HTTP_ORIGIN" in environ)
        ):
            return self.flask(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 <= length <= self._max_body_bytes:  # streamed or too large: Flask's limits
            return self.flask(environ, start_response)
        return self._answer(environ, start_response, path, match, length)

    def _answer(
        self,
        environ: Environ,
        start_response: StartResponse,
        path: str,
        match: _Match,
        length: int,
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        body: bytes = environ["wsgi.input"].read(length)
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        self._active.enter()
        self._counts.started()
        try:
            self._guard.check(
                self._access.get(match.endpoint), environ.get("HTTP_AUTHORIZATION", "")
            )
            route = match.route

            def read(chosen: Any) -> Any:
                # In the view's order: the model version first (404, 503), then the body (415).
                require_json(
                    environ.get("HTTP_CONTENT_ENCODING"),
                    parse_options_header(environ.get("CONTENT_TYPE", ""))[0].lower(),
                    untyped_ok=route.untyped_ok,
                )
                return route.decode(chosen, body)

            payload, lineage = route.answer(
                self._plane, self._max_instances, match.name, match.version, read
            )
        except Exception as error:  # every error, expected or not, is rendered by Flask's cycle
            self._counts.abandoned()
            self._active.leave()
            environ["wsgi.input"] = io.BytesIO(body)
            environ[RAISED] = error
            return self.flask(environ, start_response)
        try:
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                *lineage.items(),
                *self._security.of(match.endpoint, path),
                (REQUEST_ID_HEADER, request_id),
            ]
            if environ.get("wsgi.url_scheme") == "https":
                headers.append(STRICT_TRANSPORT)
            start_response(_OK, headers)
            seconds = time.perf_counter() - started
            self._counts.finished(match.rule, "POST", 200, match.name, seconds)
            if self._log is not None:
                self._log.write(
                    method="POST",
                    path=path,
                    status=200,
                    duration_ms=round(seconds * 1000, 3),
                    model=match.name,
                    version=lineage.get(MODEL_VERSION_HEADER),
                    request_id=request_id,
                )
        finally:
            self._active.leave()
        if path not in self._known and len(self._known) < MAX_KNOWN_PATHS:
            self._known[path] = match  # only paths that answered a prediction
        return [payload]

    def _match(self, path: str) -> _Match | None:
        """The predict route ``path`` names, by the app's own URL map (``None``: another route,
        none, or a path only Flask's routing should judge)."""
        if not path.isascii():  # Flask decodes such paths itself
            return None
        try:
            rule, arguments = self._adapter.match(path, method="POST", return_rule=True)
        except HTTPException:  # 404, 405, redirects: Flask answers them
            return None
        endpoint = rule.endpoint
        route = self._routes.get(endpoint) if isinstance(endpoint, str) else None
        if route is None:
            return None
        return _Match(route, endpoint, rule.rule, arguments["name"], arguments.get("version"))


def install_lane(app: Flask, cycle: RequestCycle, **parts: Any) -> None:
    """Put the prediction lane in front of ``app`` (``parts``: see :class:`PredictionLane`),
    and make ``cycle`` raise an error the lane handed over, as the cycle's last start step
    (after the request id, metrics and token steps, as if the view had raised it)."""

    def replay() -> None:
        error: BaseException | None = request.environ.pop(RAISED, None)
        if error is not None:
            raise error

    cycle.on_start("prediction lane hand-over", replay)
    app.wsgi_app = PredictionLane(app, app.wsgi_app, **parts)  # type: ignore[method-assign]
