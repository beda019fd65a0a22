"""Per-request plumbing shared by the blueprints: the data plane, request ids, JSON bodies."""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from flask import Flask, Response, current_app, g, request

from pipeserve.errors import UnsupportedMediaTypeError
from pipeserve.inference.dataplane import DataPlane
from pipeserve.inference.registry import ModelVersion
from pipeserve.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
MODEL_VERSION_HEADER = "X-Model-Version"
MODEL_DIGEST_HEADER = "X-Model-Digest"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EXTENSION_KEY = "pipeserve"


def install(
    app: Flask, settings: Settings, dataplane: DataPlane, active: ActiveRequests
) -> RequestCycle:
    """Attach settings and data plane to ``app``, add request ids to every exchange, and keep
    ``active`` counting the requests in progress. Returns the app's :class:`RequestCycle`, to
    which the access log and the metrics add their steps."""
    app.extensions[_EXTENSION_KEY] = {
        "settings": settings,
        "dataplane": dataplane,
        "draining": threading.Event(),
    }
    cycle = app.extensions[_EXTENSION_KEY]["cycle"] = RequestCycle()
    cycle.on_start("request id (+ in-flight count)", active.enter, _assign_request_id)
    cycle.on_finish("request id (+ in-flight count)", _echo_request_id)
    cycle.install(app, teardown=active.leave)
    return cycle


Start = Callable[[], None]
Finish = Callable[[Response], None]


class RequestCycle:
    """All of pipeserve's per-request bookkeeping in one ``before_request``, one
    ``after_request`` and one ``teardown_request`` hook.

    Flask spends about a microsecond on each hook it calls (it looks up the blueprint chain and
    checks each function for a coroutine); the steps here are plain calls, in the order added
    (finish steps after every other after-request hook, so they see the final response). The
    start time is read once, into ``g.started``, for every step that measures a duration.
    Steps are registered with the feature they belong to (``benchmarks/request_path`` times
    each feature).
    """

    def __init__(self) -> None:
        self.starts: list[tuple[str, Start]] = []
        self.finishes: list[tuple[str, Finish]] = []

    def on_start(self, feature: str, *steps: Start) -> None:
        """Run ``steps`` before each request, after the steps added before them."""
        self.starts.extend((feature, step) for step in steps)

    def on_finish(self, feature: str, *steps: Finish) -> None:
        """Run ``steps`` on each response, before the steps added before them (as Flask runs
        its after-request hooks: the last added first)."""
        self.finishes[:0] = [(feature, step) for step in reversed(steps)]

    def install(self, app: Flask, teardown: Callable[[BaseException | None], None]) -> None:
        """Register the three hooks (first, so that ``finish`` runs after all the others).
        The step lists are read per request: steps added later count."""
        starts, finishes, clock = self.starts, self.finishes, time.perf_counter

        def start() -> None:
            g.started = clock()
            for _, step in starts:
                step()

        def finish(response: Response) -> Response:
            for _, step in finishes:
                step(response)
            return response

        app.before_request(start)
        app.after_request(finish)
        app.teardown_request(teardown)


class ActiveRequests:
    """How many requests this process is handling now (tells batching whether to wait)."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self._count += 1

    def leave(self, _error: BaseException | None = None) -> None:
        with self._lock:
            self._count -= 1

    def __call__(self) -> int:
        return self._count


def dataplane() -> DataPlane:
    """The data plane of the current app."""
    plane: DataPlane = current_app.extensions[_EXTENSION_KEY]["dataplane"]
    return plane


def start_draining(app: Flask) -> None:
    """Mark ``app`` as shutting down: readiness turns 503 while in-flight requests finish.
    Called when the server drains on SIGTERM (see ``pipeserve.api.server``)."""
    app.extensions[_EXTENSION_KEY]["draining"].set()


def draining() -> bool:
    """Whether the current app is shutting down."""
    event: threading.Event = current_app.extensions[_EXTENSION_KEY]["draining"]
    return event.is_set()


def settings() -> Settings:
    """The settings of the current app."""
    value: Settings = current_app.extensions[_EXTENSION_KEY]["settings"]
    return value


def _assign_request_id() -> None:
    g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER))


def request_id_for(supplied: str | None) -> str:
    """The id of a request whose client sent ``supplied`` in its X-Request-ID header: the
    caller's id, kept for tracing only if it cannot forge log lines or headers, else a new one."""
    return supplied if supplied and _SAFE_REQUEST_ID.match(supplied) else os.urandom(16).hex()


def _echo_request_id(response: Response) -> None:
    request_id = g.get("request_id")
    if request_id:
        # add(), not item assignment: nothing else sets it, and add() does not scan the headers.
        response.headers.add(REQUEST_ID_HEADER, request_id)


def json_body(*, untyped_ok: bool = False, binary_ok: bool = False) -> bytes:
    """The raw request body, after checking it is declared as JSON and not compressed.

    ``untyped_ok`` also accepts a body without a content type (Triton's HTTP client sends none);
    ``binary_ok`` accepts ``application/octet-stream`` (the binary tensor extension). The size
    limit (``MAX_CONTENT_LENGTH``) is enforced by Werkzeug while reading, which raises 413 for a
    body that is too large, declared or streamed. Raises :class:`UnsupportedMediaTypeError` for a
    body of another type or with a ``Content-Encoding``.
    """
    require_json(
        request.headers.get("Content-Encoding"),
        request.mimetype,
        untyped_ok=untyped_ok,
        binary_ok=binary_ok,
    )
    # Kept only when the access log will show it (PIPESERVE_LOG_PAYLOAD_EVERY).
    return request.get_data(cache=bool(g.get("keep_body")))


def require_json(
    content_encoding: str | None,
    mimetype: str,
    *,
    untyped_ok: bool = False,
    binary_ok: bool = False,
) -> None:
    """Raise :class:`UnsupportedMediaTypeError` unless a body with these headers is JSON we
    read (see :func:`json_body`); ``mimetype`` is the content type without its parameters."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaTypeError(
            f"compressed request bodies (Content-Encoding: {encoding}) are not accepted; "
            "send the body uncompressed",
            content_encoding=encoding,
        )
    accepted = (
        mimetype == "application/json"
        or mimetype.endswith("+json")
        or (untyped_ok and not mimetype)
        or (binary_ok and mimetype == "application/octet-stream")
    )
    if not accepted:
        raise UnsupportedMediaTypeError(
            f"the request body must be JSON sent with 'Content-Type: application/json', "
            f"got {mimetype or 'no content type'}",
            content_type=mimetype,
        )


C = TypeVar("C")

# Per loaded model version, its codecs; weak keys, so a version dropped by a reload takes its
# codecs (and nothing keeps its pipeline alive) with it.
_CODECS: weakref.WeakKeyDictionary[ModelVersion, dict[tuple[Any, int], Any]] = (
    weakref.WeakKeyDictionary()
)


def codec(
    codec_type: Callable[[ModelVersion, int], C], entry: ModelVersion, max_instances: int
) -> C:
    """The ``codec_type`` codec of ``entry`` for requests of at most ``max_instances`` rows:
    built once per loaded model version (building the request schema costs milliseconds), then
    shared by every request for that version."""
    key = (codec_type, max_instances)
    cache = _CODECS.get(entry)  # get before setdefault: setdefault makes a weakref every call
    if cache is None:
        cache = _CODECS.setdefault(entry, {})
    built: C | None = cache.get(key)
    if built is None:
        built = cache[key] = codec_type(entry, max_instances)
    return built


def version_header(entry: ModelVersion) -> dict[str, str]:
    """The headers naming the model version that answered and the digest of its bundle (the
    sha256 of its bundle.json, as in the model's metadata and on its card)."""
    headers = {MODEL_VERSION_HEADER: entry.version} if entry.version else {}
    if entry.digest:
        headers[MODEL_DIGEST_HEADER] = entry.digest
    return headers


def body_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    """A 200 answer whose JSON ``body`` a codec encoded already."""
    return Response(body, status=200, mimetype="application/json", headers=headers)


def json_response(
    document: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """Encode ``document`` with orjson (several times faster than the standard library)."""
    return Response(
        orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY),
        status=status,
        mimetype="application/json",
        headers=headers,
    )
