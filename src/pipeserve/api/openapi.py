"""Complete the OpenAPI document with what only the loaded bundles know.

APIFlask documents the routes; this adds, per served model, the request schema generated from
its bundle (real feature names, types, training ranges, a real example row) and documents every
error response as an RFC 9457 problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipeserve.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA
from pipeserve.inference.dataplane import DataPlane
from pipeserve.protocols.friendly import FriendlyCodec

REF = "#/components/schemas/{model}"
PREDICT_PATH = "/api/v1/models/{name}/predict"


def spec_processor(
    dataplane: DataPlane, max_instances: int
) -> Callable[[dict[Any, Any] | str], dict[Any, Any] | str]:
    """A callback for ``APIFlask.spec_processor`` bound to the app's models."""

    def process(spec: dict[Any, Any] | str) -> dict[Any, Any] | str:
        if isinstance(spec, str):  # only with SPEC_FORMAT=yaml, which we never set
            return spec
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        _document_problems(spec)
        _document_predict(spec, schemas, dataplane, max_instances)
        return spec

    return process


def _document_problems(spec: dict[str, Any]) -> None:
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {
                        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}
                    }


def _document_predict(
    spec: dict[str, Any], schemas: dict[str, Any], dataplane: DataPlane, max_instances: int
) -> None:
    operation = spec.get("paths", {}).get(PREDICT_PATH, {}).get("post")
    if operation is None:
        return
    refs: list[dict[str, str]] = []
    examples: dict[str, Any] = {}
    for entry in dataplane.models():
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
