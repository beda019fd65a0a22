"""Complete the OpenAPI document with what only the loaded bundles know.

APIFlask documents the routes; this adds, per served model, the request schema generated from
its bundle (real feature names, types, training ranges, a real example row) and documents every
error response as an RFC 9457 problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from pipeserve.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, is_standard_protocol_path
from pipeserve.inference.dataplane import DataPlane
from pipeserve.protocols.friendly import FriendlyCodec
from pipeserve.protocols.v1 import V1PredictRequest
from pipeserve.protocols.v2 import InferenceRequest

REF = "#/components/schemas/{model}"
PREDICT_PATHS = (
    "/api/v1/models/{name}/predict",
    "/api/v1/models/{name}/versions/{version}/predict",
)
INFER_PATHS = ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")


def spec_processor(
    dataplane: DataPlane, max_instances: int, tokens_required: bool = False
) -> Callable[[dict[Any, Any] | str], dict[Any, Any] | str]:
    """A callback for ``APIFlask.spec_processor`` bound to the app's models; with
    ``tokens_required`` the model routes are documented as needing a bearer token."""

    def process(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
        if isinstance(spec, str):  # only with SPEC_FORMAT=yaml, which we never set
            return spec
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas["StandardError"] = STANDARD_ERROR_SCHEMA
        _document_security(spec, tokens_required)
        _document_problems(spec)
        _document_standard_bodies(spec, schemas)
        _document_predict(spec, schemas, dataplane, max_instances)
        return spec

    return process


_OPEN_PATHS = ("/v2", "/v2/health/live", "/v2/health/ready")
_MODEL_ROUTE_PREFIXES = ("/api/", "/v1/", "/v2/")


def _document_security(spec: dict[str, Any], tokens_required: bool) -> None:
    """Bearer tokens: always on the admin routes, on the model routes when configured."""
    spec["components"].setdefault("securitySchemes", {})["bearerAuth"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from PIPESERVE_API_TOKENS(_FILE) or, for the admin routes, "
        "PIPESERVE_ADMIN_TOKENS(_FILE).",
    }
    for path, operations in spec.get("paths", {}).items():
        admin = path.startswith("/admin/")
        model_route = path.startswith(_MODEL_ROUTE_PREFIXES) and path not in _OPEN_PATHS
        if not (admin or (tokens_required and model_route)):
            continue
        for operation in operations.values():
            operation["security"] = [{"bearerAuth": []}]
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", {"description": "No bearer token, or not an accepted one."})
            if admin:
                responses.setdefault("403", {"description": "A token of the model routes."})


# Request bodies the codecs read themselves (a framework parser would accept NaN literals and
# answer malformed JSON in its own words), documented here.
_STANDARD_BODIES: dict[str, type[BaseModel]] = {
    "/v1/models/{name}:predict": V1PredictRequest,
    **dict.fromkeys(
        ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer"),
        InferenceRequest,
    ),
}


def _document_standard_bodies(spec: dict[str, Any], schemas: dict[str, Any]) -> None:
    paths = spec.get("paths", {})
    for path, model in _STANDARD_BODIES.items():
        operation = paths.get(path, {}).get("post")
        if operation is None:
            continue
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }


# Routes of the standard protocols answer errors as those protocols do, not as problems.
STANDARD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error of the KServe V1 / Open Inference Protocol routes.",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What went wrong."}},
}


def _document_problems(spec: dict[str, Any]) -> None:
    problem = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}}
    standard = {"application/json": {"schema": {"$ref": REF.format(model="StandardError")}}}
    for path, operations in spec.get("paths", {}).items():
        content = standard if is_standard_protocol_path(path) else problem
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = content


def _document_predict(
    spec: dict[str, Any], schemas: dict[str, Any], dataplane: DataPlane, max_instances: int
) -> None:
    paths = spec.get("paths", {})
    operations = [paths.get(path, {}).get("post") for path in PREDICT_PATHS]
    refs: list[dict[str, str]] = []
    examples: dict[str, Any] = {}
    for served in dataplane.models():
        entry = served.default
        if not entry.ready or entry.manifest is None:
            continue
        model = FriendlyCodec(entry, max_instances).request_model
        schema = model.model_json_schema(ref_template=REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        refs.append({"$ref": REF.format(model=model.__name__)})
        examples[entry.name] = {
            "summary": f"{entry.name} {entry.manifest.version}: a row from its training data",
            "value": {"instances": [entry.manifest.example], "probabilities": True},
        }
    if not refs:
        return
    for operation in operations:
        if operation is not None:
            _document_friendly_body(operation, refs, examples)
    _document_v2_examples(paths, dataplane)


def _document_friendly_body(
    operation: dict[str, Any], refs: list[dict[str, str]], examples: dict[str, Any]
) -> None:
    operation["requestBody"] = {
        "required": True,
        "description": "The request schema depends on the model; one per served model.",
        "content": {
            "application/json": {
                "schema": refs[0] if len(refs) == 1 else {"oneOf": refs},
                "examples": examples,
            }
        },
    }
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "name":
            parameter["description"] = "Name of the model: " + ", ".join(examples)
            parameter["example"] = next(iter(examples))


def _document_v2_examples(paths: dict[str, Any], dataplane: DataPlane) -> None:
    """A ready-to-send inference request per model: one tensor per feature, from a real row."""
    examples: dict[str, Any] = {}
    for served in dataplane.models():
        manifest = served.default.manifest
        if manifest is None:
            continue
        inputs = [
            {
                "name": feature.name,
                "shape": [1],
                "datatype": "BYTES" if feature.dtype == "string" else "FP64",
                "data": [manifest.example.get(feature.name)],
            }
            for feature in manifest.features
        ]
        examples[served.name] = {
            "summary": f"{served.name}: one tensor per feature",
            "value": {"id": "example-1", "inputs": inputs},
        }
    for path in INFER_PATHS:
        operation = paths.get(path, {}).get("post")
        content = (operation or {}).get("requestBody", {}).get("content", {})
        if "application/json" in content and examples:
            content["application/json"]["examples"] = examples
