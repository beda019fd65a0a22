"""The only table from error to HTTP status, and the one renderer of RFC 9457 problems.

Inside the package errors are typed (``pipeserve.errors``) and know nothing of HTTP; here each
type gets its status once. Unexpected exceptions become a generic 500 that carries the request id
(for the logs) and never the exception's text, type or stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, TypeVar

import orjson
from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from pipeserve import errors
from pipeserve.api.surfaces import ErrorStyle, surface_index

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Most specific class first: the first ``isinstance`` match wins.
STATUS_BY_ERROR: tuple[tuple[type[errors.PipeserveError], HTTPStatus], ...] = (
    (errors.MalformedRequestError, HTTPStatus.BAD_REQUEST),
    (errors.AddressNotFoundError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.InvalidInputError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (errors.PayloadTooLargeError, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (errors.UnsupportedMediaTypeError, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (errors.AuthenticationError, HTTPStatus.UNAUTHORIZED),
    (errors.PermissionDeniedError, HTTPStatus.FORBIDDEN),
    (errors.RequestError, HTTPStatus.BAD_REQUEST),
    (errors.ModelNotFoundError, HTTPStatus.NOT_FOUND),
    (errors.ModelNotReadyError, HTTPStatus.SERVICE_UNAVAILABLE),
    # An upstream outage, not the client's fault: the same request may succeed later.
    (errors.GeocoderUnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
    # Raised only at start-up or in training; if one escapes into a request it is our fault.
    (errors.BundleIntegrityError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.UntrustedTypeError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.BundleCodeMissingError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.BundleError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.ConfigurationError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.TrainingError, HTTPStatus.INTERNAL_SERVER_ERROR),
    (errors.PipeserveError, HTTPStatus.INTERNAL_SERVER_ERROR),
)

# What a prediction route can raise, whatever its protocol (the one list its documented error
# statuses come from).
PREDICTION_ERRORS: tuple[type[errors.PipeserveError], ...] = (
    errors.MalformedRequestError,
    errors.ModelNotFoundError,
    errors.PayloadTooLargeError,
    errors.UnsupportedMediaTypeError,
    errors.InvalidInputError,
    errors.ModelNotReadyError,
    errors.GeocoderUnavailableError,
)

# What a client can do about an HTTP error raised by routing or Werkzeug itself.
_HTTP_HINTS: dict[int, str] = {
    404: "No such route; see /docs for the API.",
    405: "This route does not accept that method; see /docs for the API.",
}


def status_for(error: errors.PipeserveError) -> HTTPStatus:
    """The HTTP status of a pipeserve error."""
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR  # pragma: no cover - PipeserveError is in the table


def problem(status: int, detail: str, code: str, extra: dict[str, Any] | None = None) -> Response:
    """An ``application/problem+json`` response."""
    body: dict[str, Any] = {
        "type": f"urn:pipeserve:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    request_id = g.get("request_id")
    if request_id:
        body["request_id"] = request_id
    if extra:
        body.update(extra)
    return Response(orjson.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)


# The standard protocols (KServe V1, Open Inference Protocol V2) answer errors with
# ``{"error": "..."}`` and use 400 where pipeserve's own API distinguishes 422 (valid JSON that
# does not fit the model).
_STANDARD_STATUS_OVERRIDES: dict[int, int] = {
    HTTPStatus.UNPROCESSABLE_ENTITY: HTTPStatus.BAD_REQUEST
}


def status_in(style: ErrorStyle, status: int) -> int:
    """The status a surface of ``style`` answers for what pipeserve's own API answers
    ``status``."""
    if style is ErrorStyle.STANDARD:
        return _STANDARD_STATUS_OVERRIDES.get(status, status)
    return status


def standard_error(status: int, message: str) -> Response:
    """A ``{"error": message}`` response of the standard inference protocols."""
    return Response(orjson.dumps({"error": message}), status=status, mimetype="application/json")


View = TypeVar("View", bound=Callable[..., Any])
_RAISES = "__pipeserve_raises__"


def raises(*error_types: type[errors.PipeserveError]) -> Callable[[View], View]:
    """Declare the errors a view raises: the OpenAPI document lists their statuses (from
    :data:`STATUS_BY_ERROR`, in the format of the view's surface). Put it below the route and
    APIFlask's decorators."""

    def mark(view: View) -> View:
        setattr(view, _RAISES, error_types)
        return view

    return mark


def raised_by(view: Callable[..., Any]) -> tuple[type[errors.PipeserveError], ...]:
    """What :func:`raises` declared for ``view`` (through APIFlask's wrappers)."""
    current: Any = view
    while current is not None:
        declared: tuple[type[errors.PipeserveError], ...] | None = getattr(current, _RAISES, None)
        if declared is not None:
            return declared
        current = getattr(current, "__wrapped__", None)
    return ()


def error_responses(
    style: ErrorStyle, raised: Iterable[type[errors.PipeserveError]]
) -> dict[int, str]:
    """The documented error responses of a route that raises ``raised``: each status from
    :data:`STATUS_BY_ERROR` (as a surface of ``style`` answers it), described by the errors'
    own docstrings."""
    described: dict[int, list[str]] = {}
    for error_type in raised:
        status = status_in(style, _status_of_type(error_type))
        text = _first_paragraph(error_type.__doc__ or error_type.__name__).replace("``", "`")
        if text not in described.setdefault(status, []):
            described[status].append(text)
    return {status: " Or: ".join(texts) for status, texts in sorted(described.items())}


def _status_of_type(error_type: type[errors.PipeserveError]) -> int:
    for known, status in STATUS_BY_ERROR:
        if issubclass(error_type, known):
            return status
    return HTTPStatus.INTERNAL_SERVER_ERROR  # pragma: no cover - PipeserveError is in the table


def _first_paragraph(text: str) -> str:
    return " ".join(text.strip().split("\n\n")[0].split())


def _answer(
    status: int,
    detail: str,
    code: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The error response in the format of the requested path's protocol. Views, request hooks
    and routing all end here, so the format cannot depend on where the error was raised."""
    style = surface_index(current_app).of(request.endpoint, request.path).errors
    if style is ErrorStyle.STANDARD:
        response = standard_error(status_in(style, status), detail)
    else:
        response = problem(status, detail, code, extra)
    if status == HTTPStatus.UNAUTHORIZED:  # RFC 6750: say which scheme would be accepted
        response.headers["WWW-Authenticate"] = 'Bearer realm="pipeserve"'
    response.headers.update(headers or {})
    return response


def _pipeserve_error(error: errors.PipeserveError) -> Response:
    status = status_for(error)
    if status == HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("request failed: %s", error.message, exc_info=error)
        return _internal()
    return _answer(status, error.message, error.code, error.details or None)


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return _internal()
    if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return _answer(
            status,
            f"the request body is larger than the limit of {limit} bytes "
            "(PIPESERVE_MAX_BODY_BYTES); send fewer instances per request",
            errors.PayloadTooLargeError.code,
            {"limit_bytes": limit} if limit else None,
        )
    detail = _HTTP_HINTS.get(status, error.description or HTTPStatus(status).phrase)
    allow = {name: value for name, value in error.get_headers() if name.lower() == "allow"}
    return _answer(status, detail, HTTPStatus(status).name.lower(), headers=allow)


def _unexpected(error: Exception) -> Response:
    logger.error("unexpected error while handling the request", exc_info=error)
    return _internal()


def _internal() -> Response:
    # Always a problem document: it carries the request id the operators need.
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "the server failed to handle the request; report the request_id to the operators",
        "internal_error",
    )


def register_problem_handlers(app: Flask) -> None:
    """Render every error raised while handling a request: a problem document, or the
    standard protocols' ``{"error"}`` on their surfaces (:mod:`pipeserve.api.surfaces`);
    statuses from :data:`STATUS_BY_ERROR`."""
    app.register_error_handler(errors.PipeserveError, _pipeserve_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "URN naming the kind of problem."},
        "title": {"type": "string", "description": "The HTTP status phrase."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and how to fix it."},
        "code": {"type": "string", "description": "Stable machine-readable error code."},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each invalid field of the request.",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
