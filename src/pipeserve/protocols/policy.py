"""Request policy shared by the three protocols: row limits, envelope messages, rounding.

Each rule and its message is written here once, so the friendly API, KServe V1 and V2 refuse
the same mistake in the same words (only the field, in each protocol's terms, differs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from pipeserve.errors import InvalidInputError
from pipeserve.protocols.columns import Column, invalid, json_name, summarize_errors
from pipeserve.protocols.jsonbody import parse_json

# Probabilities in the friendly API and V1 are rounded to this many digits (V2 sends FP64 as is).
PROBABILITY_DIGITS = 6
BODY = "(body)"


class WireModel(BaseModel):
    """A documented wire shape of any protocol: no field beyond those it names."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class DecodedRequest:
    """A decoded, validated prediction request of any protocol: one column per feature."""

    columns: dict[str, Column]
    rows: int
    probabilities: bool


Decoded = TypeVar("Decoded")


def decode_checked(body: bytes, decode: Callable[[bytes], Decoded]) -> Decoded:
    """``decode(body)``, where a body that fits no request but names a key twice is malformed
    (400) rather than invalid: the fast decoders count keys only for bodies that fit."""
    try:
        return decode(body)
    except InvalidInputError:
        parse_json(body)  # raises MalformedRequestError for a key named twice
        raise


def check_row_count(count: int, max_instances: int, field: str) -> None:
    """Raise :class:`InvalidInputError` at ``field`` unless 1 <= ``count`` <= ``max_instances``."""
    if count == 0:
        raise invalid(field, "must be a non-empty array (at least 1 item): no rows to score")
    if count > max_instances:
        raise invalid(
            field,
            f"has too many rows: at most {max_instances} per request "
            "(PIPESERVE_MAX_INSTANCES); split the batch",
        )


def require_object(document: Any, field: str = BODY) -> dict[str, Any]:
    """``document`` if it is a JSON object, else :class:`InvalidInputError`."""
    if type(document) is not dict:
        noun = "a JSON object" if field == BODY else "an object"
        raise invalid(field, f"must be {noun}, got {json_name(document)}")
    return document


def refuse_unknown_fields(
    document: dict[str, Any],
    known: Sequence[str],
    prefix: str = "",
    message: str = "is not a field of this request (expected: {known})",
) -> None:
    """Raise :class:`InvalidInputError` naming the first key of ``document`` not in ``known``."""
    for key in document:
        if key not in known:
            raise invalid(f"{prefix}{key}", message.format(known=", ".join(known)))


def require_list(document: dict[str, Any], key: str) -> list[Any]:
    """``document[key]`` if it is an array; :class:`InvalidInputError` if missing or not."""
    if key not in document:
        raise invalid(key, "is required")
    value = document[key]
    if type(value) is not list:
        raise invalid(key, f"must be an array, got {json_name(value)}")
    return value


def boolean(value: Any, field: str) -> bool:
    """``value`` if it is ``true`` or ``false``."""
    if type(value) is not bool:
        raise invalid(field, f"must be a boolean: true or false, got {json_name(value)}")
    return value


class JsonStrings:
    """Strings known in advance (a model's class names) as JSON, written once."""

    def __init__(self, strings: Sequence[str]) -> None:
        self._encoded = {text: orjson.dumps(text) for text in strings}

    def of(self, strings: Sequence[str]) -> list[bytes]:
        """Each of ``strings`` as JSON (one not known in advance written now)."""
        encoded = self._encoded
        return [encoded.get(text) or orjson.dumps(text) for text in strings]


class ProbabilityObjects:
    """Each row's rounded probabilities as the JSON object ``{"setosa":0.97,...}`` of one
    model's classes (the friendly API's and V1's shape), written as bytes.

    Why not dicts for orjson: building a dict per row cost half of a 1000-row response (640
    against 310 µs for the iris model). Here orjson writes the whole rounded matrix in one call,
    and a template holding the escaped class names takes each row's numbers: the same bytes
    orjson writes for the dicts, numbers included (tests/protocols/test_policy.py).
    """

    def __init__(self, classes: Sequence[str]) -> None:
        self.width = len(classes)
        self.template = b"{" + b",".join(orjson.dumps(name) + b":%b" for name in classes) + b"}"
        """One row's object, a ``%b`` for each class's number."""

    def numbers(self, probabilities: NDArray[np.float64]) -> Iterator[tuple[bytes, ...]]:
        """Each row's numbers, rounded to :data:`PROBABILITY_DIGITS` digits, as JSON."""
        if probabilities.size == 0:
            return iter(())
        rounded = np.round(probabilities, PROBABILITY_DIGITS).ravel()
        flat = iter(orjson.dumps(rounded, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b","))
        return zip(*([flat] * self.width), strict=False)

    def objects(self, probabilities: NDArray[np.float64]) -> list[bytes]:
        """Each row's object."""
        template = self.template
        return [template % row for row in self.numbers(probabilities)]


def place_model_error(
    error: InvalidInputError, rows_field: str, locate: Callable[[str, int], str]
) -> None:
    """Give the inference core's errors (which know no wire format) the protocol's fields: the
    rows as a whole at ``rows_field`` (``instances``, ``inputs``), one value of one row where
    ``locate(feature, row)`` says (``instances[3].sepal_length``, ``inputs.x.data[3]``)."""
    errors = error.details.get("errors", [])
    unplaced = [item for item in errors if "field" not in item]
    for item in unplaced:
        if "feature" in item:
            item["field"] = locate(item.pop("feature"), item.pop("row"))
        else:
            item["field"] = rows_field
    if unplaced:
        error.message = summarize_errors(errors)
