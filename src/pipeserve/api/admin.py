"""Operator routes, registered only when ``PIPESERVE_ADMIN_ENABLED`` is true.

``POST /admin/reload`` reloads the models in the worker process that receives it and answers
what changed. Every worker holds its own models: with several workers, use
``PIPESERVE_RELOAD_INTERVAL`` (each worker watches the repository) or send SIGHUP to the
Gunicorn master (it replaces the workers gracefully).
"""

from __future__ import annotations

import dataclasses
import os

from apiflask import APIBlueprint
from flask import Response
from pydantic import BaseModel, ConfigDict, Field

from pipeserve.api.context import dataplane, json_response

admin = APIBlueprint("admin", __name__, tag="Admin", url_prefix="/admin")


class ReloadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_pid: int = Field(description="The worker process that reloaded.")
    loaded: list[str] = Field(description="New or changed model versions now serving.")
    unchanged: list[str]
    removed: list[str] = Field(description="Versions whose bundle is gone; no longer served.")
    failed: list[str] = Field(description="Versions that failed to load and are not ready.")
    kept: list[str] = Field(
        description="Versions whose new bundle was refused; the loaded one keeps serving."
    )


@admin.post("/reload")
@admin.output(ReloadResult)
@admin.doc(
    summary="Reload the models",
    description="Load new and changed bundles, then switch to them at once; requests in flight "
    "finish with the version they started with, and a new bundle that fails to verify leaves "
    "the loaded version serving. Reloads the worker that receives the request.",
)
def reload_models() -> Response:
    report = dataplane().reload()
    return json_response({"worker_pid": os.getpid(), **dataclasses.asdict(report)})
