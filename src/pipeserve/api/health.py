"""Liveness and readiness, as Kubernetes probes ask for them."""

from __future__ import annotations

from http import HTTPStatus
from typing import Literal

from apiflask import APIBlueprint
from flask import Response
from pydantic import BaseModel

from pipeserve.api.context import dataplane, draining, json_response
from pipeserve.api.problems import problem
from pipeserve.protocols.friendly import ModelSummary, summarize

health = APIBlueprint("health", __name__, tag="Health")


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    models: list[ModelSummary]


@health.get("/healthz")
@health.output(Liveness)
@health.doc(
    summary="Liveness",
    description="200 while the process can answer. A model that failed to load does not make "
    "the server dead (restarting would not fix a bad bundle); see /readyz.",
)
def healthz() -> Response:
    return json_response({"status": "ok"})


@health.get("/readyz")
@health.output(Readiness)
@health.doc(
    summary="Readiness",
    description="200 once the models are loaded and verified (every configured model version, "
    "or with PIPESERVE_READY_POLICY=any at least one model); else 503, a problem document "
    "whose `models` says which are not ready and why.",
    responses={
        503: "Not ready: no model configured, a model failed to load, or the server is "
        "shutting down (SIGTERM received; requests in flight still finish)."
    },
)
def readyz() -> Response:
    plane = dataplane()
    models = [summarize(model) for model in plane.models()]
    if draining():
        detail = "shutting down: finishing the requests in flight"
        return problem(HTTPStatus.SERVICE_UNAVAILABLE, detail, "shutting_down", {"models": models})
    if plane.ready():
        return json_response({"status": "ready", "models": models})
    failed = [
        f"{model['name']}/{version['version']}" if version["version"] else model["name"]
        for model in models
        for version in model["versions"]
        if not version["ready"]
    ]
    detail = (
        f"models not ready: {', '.join(failed)}"
        if failed
        else "no models are configured: the model directory holds no bundle"
    )
    return problem(HTTPStatus.SERVICE_UNAVAILABLE, detail, "not_ready", {"models": models})
