"""Parse request bodies as strict JSON: the one place every protocol reads JSON from.

Stricter than most parsers, on purpose: NaN/Infinity literals and numbers that overflow a double
are not JSON (orjson refuses them), invalid UTF-8 is refused, and an object that names the same
key twice is refused instead of silently keeping the last value (a classic way to smuggle a value
past a validating proxy). Nesting is bounded by orjson's limit of 1024 levels.

Finding duplicate keys exactly needs a slow parser, so the fast path proves their absence by
counting: a body holds at least as many ``:`` characters (and ``"``-then-``:`` sequences) as
keys, and a parsed object loses a key for every duplicate. Only when the counts differ (colons
inside strings, say) does the exact check run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from pipeserve.errors import MalformedRequestError

_KEY_END = re.compile(rb'"\s*:')


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; raises :class:`MalformedRequestError` saying what is wrong."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedRequestError(_explain(body, error)) from error
    keys = _count_keys(document)
    if body.count(b":") != keys and len(_KEY_END.findall(body)) != keys:
        _reject_duplicate_keys(body)
    return document


def _explain(body: bytes, error: orjson.JSONDecodeError) -> str:
    near = body[max(0, error.pos - 1) : error.pos + 9]
    where = f"line {error.lineno} column {error.colno}"
    if b"NaN" in near or b"Infinity" in near:
        return (
            f"the request body is not valid JSON: NaN and Infinity are not JSON numbers ({where});"
            " send finite numbers"
        )
    if "infinity when parsed" in error.msg:
        return f"the request body is not valid JSON: a number overflows a double ({where})"
    return f"the request body is not valid JSON: {error}"


def _count_keys(document: Any) -> int:
    """Keys of every object reached; a list whose first item is a scalar is assumed to hold only
    scalars (if not, the count comes out low and the exact check runs)."""
    count = 0
    stack = [document]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(item.values())
        elif type(item) is list and item and type(item[0]) in (list, dict):
            stack.extend(item)
    return count


def _reject_duplicate_keys(body: bytes) -> None:
    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise MalformedRequestError(
                    f"the request body names the key {key!r} twice in one object; "
                    "each key may appear once"
                )
            seen[key] = value
        return seen

    json.loads(body, object_pairs_hook=unique)
