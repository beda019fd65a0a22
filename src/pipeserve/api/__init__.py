"""The HTTP API: an app factory, one blueprint per concern, one error table.

Rule: nothing happens at import. ``create_app(settings)`` loads the models and builds the app;
Gunicorn starts ``pipeserve.api:create_app()`` and ``flask --app pipeserve.api run`` finds the
factory by name. Views only parse, call the data plane and encode.

Importing this package stays cheap on purpose: the Gunicorn config lives in it, and the Gunicorn
master must not load the app's libraries (onnxruntime, prometheus-client) before it forks the
workers; onnxruntime's native threads do not survive a fork.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apiflask import APIFlask

    from pipeserve.inference.registry import ModelRegistry
    from pipeserve.settings import Settings


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> APIFlask:
    """Build the WSGI app (see :func:`pipeserve.api.app.create_app`)."""
    from pipeserve.api.app import create_app as build  # noqa: PLC0415  # see the module note

    return build(settings, registry)
