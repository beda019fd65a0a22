"""Per-request plumbing shared by the blueprints: the data plane, request ids, JSON bodies."""

from __future__ import annotations

import re
import uuid
from typing import Any

import orjson
from flask import Flask, Response, current_app, g, request

from pipeserve.errors import UnsupportedMediaTypeError
from pipeserve.inference.dataplane import DataPlane
from pipeserve.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EXTENSION_KEY = "pipeserve"


def install(app: Flask, settings: Settings, dataplane: DataPlane) -> None:
    """Attach settings and data plane to ``app`` and add request ids to every exchange."""
    app.extensions[_EXTENSION_KEY] = {"settings": settings, "dataplane": dataplane}
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def dataplane() -> DataPlane:
    """The data plane of the current app."""
    plane: DataPlane = current_app.extensions[_EXTENSION_KEY]["dataplane"]
    return plane


def settings() -> Settings:
    """The settings of the current app."""
    value: Settings = current_app.extensions[_EXTENSION_KEY]["settings"]
    return value


def _assign_request_id() -> None:
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    # A caller's id is kept for tracing only if it cannot forge log lines or headers.
    g.request_id = supplied if _SAFE_REQUEST_ID.match(supplied) else uuid.uuid4().hex
    g.max_body_bytes = current_app.config.get("MAX_CONTENT_LENGTH")


def _echo_request_id(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def json_body() -> bytes:
    """The raw request body, after checking it is declared as JSON.

    The size limit (``MAX_CONTENT_LENGTH``) is enforced by Werkzeug while reading, which raises
    413 for a body that is too large, declared or streamed. Raises
    :class:`UnsupportedMediaTypeError` for a body that is not declared as JSON.
    """
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaTypeError(
            f"the request body must be JSON sent with 'Content-Type: application/json', "
            f"got {mimetype or 'no content type'}",
            content_type=mimetype,
        )
    return request.get_data(cache=False)


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
