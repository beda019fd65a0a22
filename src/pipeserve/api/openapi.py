"""Complete the OpenAPI document with what only the app and the loaded bundles know.

APIFlask documents the routes; this walks the app's URL map and gives each route what its
surface says (:mod:`pipeserve.api.surfaces`: bearer tokens, the error format) and the error
statuses its view raises (``problems.raises``). Each served model version gets its own
prediction paths (``/api/v1/models/iris/predict``, ``/v2/models/iris/versions/2/infer``...)
whose request schema is that version's, as strict as its codec
(:mod:`pipeserve.protocols.schemas`): a request the document calls valid is accepted, one it
calls invalid is refused.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.routing import Rule

from pipeserve.api.problems import (
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA,
    error_responses,
    raised_by,
)
from pipeserve.api.surfaces import Access, ErrorStyle, Surface, surface_index
from pipeserve.bundle.manifest import Manifest
from pipeserve.errors import ConfigurationError
from pipeserve.inference.dataplane import DataPlane
from pipeserve.inference.registry import ModelVersion
from pipeserve.protocols import friendly, v1
from pipeserve.protocols.schemas import (
    InputLimits,
    instance_array_schema,
    instance_schema,
    schema_title,
)
from pipeserve.protocols.v2 import schema as v2_schema
from pipeserve.settings import Settings

REF = "#/components/schemas/{model}"
_METHODS = ("get", "post", "put", "patch", "delete")
_PATH_ARGUMENT = re.compile(r"<(?:[^<:>]+:)?([^<>]+)>")

# Routes of the standard protocols answer errors as those protocols do, not as problems.
STANDARD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error of the KServe V1 / Open Inference Protocol routes.",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What went wrong."}},
}
_ERROR_CONTENT: dict[ErrorStyle, dict[str, Any]] = {
    ErrorStyle.PROBLEM: {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}},
    ErrorStyle.STANDARD: {
        "application/json": {"schema": {"$ref": REF.format(model="StandardError")}}
    },
}


def input_limits(settings: Settings) -> InputLimits:
    """What ``settings`` let one request hold."""
    return InputLimits(
        settings.max_instances,
        settings.max_string_length,
        training_ranges=settings.out_of_range == "reject" and settings.monitor_window > 0,
    )


def spec_processor(
    app: Flask, dataplane: DataPlane, settings: Settings, tokens_required: bool = False
) -> Callable[[dict[Any, Any] | str], dict[Any, Any] | str]:
    """A callback for ``APIFlask.spec_processor`` bound to ``app`` and its models; with
    ``tokens_required`` the model routes are documented as needing a bearer token."""
    limits = input_limits(settings)

    def process(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
        if isinstance(spec, str):  # only with SPEC_FORMAT=yaml, which we never set
            return spec
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas["StandardError"] = STANDARD_ERROR_SCHEMA
        spec["components"].setdefault("securitySchemes", {})["bearerAuth"] = _BEARER
        for route in routes(app, spec):
            for operation in route.operations.values():
                _document_access(operation, route.access, tokens_required)
                _document_errors(operation, route.raises, route.surface.errors)
        _document_models(spec, app, dataplane, limits)
        return spec

    return process


@dataclass(frozen=True)
class DocumentedRoute:
    """One rule of the app's URL map and its operations in the document."""

    rule: Rule
    path: str
    surface: Surface
    access: Access
    raises: tuple[type[Exception], ...]
    operations: dict[str, dict[str, Any]]


def openapi_path(rule: str) -> str:
    """``/v1/models/<model_name:name>:predict`` → ``/v1/models/{name}:predict``."""
    return _PATH_ARGUMENT.sub(r"{\1}", rule)


def routes(app: Flask, spec: dict[str, Any]) -> Iterator[DocumentedRoute]:
    """Every documented route of ``app``'s URL map with its operations in ``spec``. Raises
    :class:`ConfigurationError` for a route of a documented surface that the document lacks
    (a route renamed without its documentation would otherwise vanish from it silently)."""
    index = surface_index(app)
    paths = spec.get("paths", {})
    for rule in app.url_map.iter_rules():
        surface = index.by_endpoint[rule.endpoint]
        if not surface.documented or rule.endpoint.endswith(".static"):
            continue
        path = openapi_path(rule.rule)
        methods = {method.lower() for method in rule.methods or ()} & set(_METHODS)
        operations = {m: paths.get(path, {}).get(m) for m in sorted(methods)}
        missing = [method for method, operation in operations.items() if operation is None]
        if missing:
            raise ConfigurationError(
                f"route {rule.rule} ({', '.join(missing).upper()}) is not in the OpenAPI document",
                route=rule.rule,
            )
        yield DocumentedRoute(
            rule,
            path,
            surface,
            index.access[rule.endpoint],
            raised_by(app.view_functions[rule.endpoint]),
            {method: operation for method, operation in operations.items() if operation},
        )


_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "A token from PIPESERVE_API_TOKENS(_FILE) or, for the admin routes, "
    "PIPESERVE_ADMIN_TOKENS(_FILE).",
}


def _document_access(operation: dict[str, Any], access: Access, tokens_required: bool) -> None:
    """Bearer tokens: always on the admin routes, on the model routes when configured."""
    if access is Access.OPEN or (access is Access.API and not tokens_required):
        return
    operation["security"] = [{"bearerAuth": []}]
    responses = operation.setdefault("responses", {})
    responses.setdefault("401", {"description": "No bearer token, or not an accepted one."})
    if access is Access.ADMIN:
        responses.setdefault("403", {"description": "A token of the model routes."})


def _document_errors(
    operation: dict[str, Any], raised: tuple[type[Exception], ...], style: ErrorStyle
) -> None:
    """The statuses of the errors the view raises, then every 4xx/5xx in the surface's format."""
    responses = operation.setdefault("responses", {})
    for status, description in error_responses(style, raised).items():  # type: ignore[arg-type]
        responses.setdefault(str(status), {"description": description})
    for status, response in responses.items():
        if str(status)[0] in "45":
            response["content"] = _ERROR_CONTENT[style]


# --- per-model prediction paths ------------------------------------------------------------------

RequestSchema = Callable[[ModelVersion, InputLimits, dict[str, Any], str], dict[str, Any]]


def _manifest(entry: ModelVersion) -> Manifest:
    """``entry``'s manifest: only ready versions, which have one, are documented, so a missing
    one is a wiring mistake, said at start-up rather than as a broken document."""
    if entry.manifest is None:
        raise ConfigurationError(f"model {entry.label} is documented but has no manifest")
    return entry.manifest


def _friendly_body(
    entry: ModelVersion, limits: InputLimits, schemas: dict[str, Any], prefix: str
) -> dict[str, Any]:
    return friendly.request_schema(_instance_ref(entry, limits, schemas, prefix), limits)


def _v1_body(
    entry: ModelVersion, limits: InputLimits, schemas: dict[str, Any], prefix: str
) -> dict[str, Any]:
    values = instance_array_schema(_manifest(entry), limits)
    return v1.request_schema(_instance_ref(entry, limits, schemas, prefix), values, limits)


def _v2_body(
    entry: ModelVersion, limits: InputLimits, schemas: dict[str, Any], prefix: str
) -> dict[str, Any]:
    has_probabilities = entry.predictor is not None and entry.predictor.has_probabilities
    return v2_schema.request_schema(_manifest(entry), limits, has_probabilities)


def _instance_ref(
    entry: ModelVersion, limits: InputLimits, schemas: dict[str, Any], prefix: str
) -> dict[str, str]:
    name = prefix + "Instance"
    schemas.setdefault(name, instance_schema(_manifest(entry), limits))
    return {"$ref": REF.format(model=name)}


def _friendly_example(entry: ModelVersion) -> dict[str, Any]:
    return {"instances": [_manifest(entry).example], "probabilities": True}


def _v1_example(entry: ModelVersion) -> dict[str, Any]:
    return {"instances": [_manifest(entry).example], "parameters": {"probabilities": True}}


def _v2_example(entry: ModelVersion) -> dict[str, Any]:
    """One tensor per feature, from a real training row."""
    inputs = [
        {
            "name": feature.name,
            "shape": [1],
            "datatype": feature.v2_datatype,
            "data": [_manifest(entry).example.get(feature.name)],
        }
        for feature in _manifest(entry).features
    ]
    return {"id": "example-1", "inputs": inputs}


@dataclass(frozen=True)
class PredictionOperation:
    """A prediction endpoint: the request schema of one model version, and an example."""

    suffix: str
    body: RequestSchema
    example: Callable[[ModelVersion], dict[str, Any]]


# The endpoints whose request body depends on the model: each gets one path per served model
# (and version). A test fails when one of them is not a route of the app.
PREDICTION_OPERATIONS: dict[str, PredictionOperation] = {
    "models.predict": PredictionOperation("PredictRequest", _friendly_body, _friendly_example),
    "kserve_v1.predict": PredictionOperation("KServeV1Request", _v1_body, _v1_example),
    "inference_v2.infer": PredictionOperation("InferenceRequest", _v2_body, _v2_example),
}


def _document_models(
    spec: dict[str, Any], app: Flask, dataplane: DataPlane, limits: InputLimits
) -> None:
    """Replace each prediction path by one path per served model version, with its schema."""
    paths = spec.get("paths", {})
    schemas = spec["components"]["schemas"]
    served = [
        (model.name, model.default, [entry for entry in model.versions if entry.ready])
        for model in dataplane.models()
    ]
    for route in routes(app, spec):
        operation = PREDICTION_OPERATIONS.get(route.rule.endpoint)
        if operation is None or route.path not in paths:
            continue
        template = paths.pop(route.path)
        for name, default, versions in served:
            chosen = versions if "{version}" in route.path else [default]
            for entry in chosen:
                if not entry.ready or entry.manifest is None:
                    continue
                concrete = route.path.replace("{name}", name)
                if "{version}" in concrete:
                    concrete = concrete.replace("{version}", entry.version or "")
                paths[concrete] = _bound(
                    template, entry, operation, limits, schemas, is_default=entry is default
                )


def _bound(
    template: dict[str, Any],
    entry: ModelVersion,
    operation: PredictionOperation,
    limits: InputLimits,
    schemas: dict[str, Any],
    *,
    is_default: bool,
) -> dict[str, Any]:
    """``template``'s operations for one model version: no name or version parameter, that
    version's request schema and example."""
    prefix = schema_title(entry.name, "")
    if not is_default:  # the default version's components keep the plain names
        prefix += f"Version{schema_title(entry.version or '', '')}"
    component = prefix + operation.suffix
    schemas.setdefault(component, operation.body(entry, limits, schemas, prefix))
    bound: dict[str, Any] = {}
    for method, document in template.items():
        concrete = copy.deepcopy(document)
        concrete["parameters"] = [
            parameter
            for parameter in concrete.get("parameters", [])
            if not (parameter.get("in") == "path" and parameter.get("name") in {"name", "version"})
        ]
        if not concrete["parameters"]:
            del concrete["parameters"]
        concrete["summary"] = f"{concrete.get('summary', 'Predict')}: {entry.label}"
        concrete["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": REF.format(model=component)},
                    "examples": {
                        entry.name: {
                            "summary": f"{entry.label}: a row from its training data",
                            "value": operation.example(entry),
                        }
                    },
                }
            },
        }
        bound[method] = concrete
    return bound
