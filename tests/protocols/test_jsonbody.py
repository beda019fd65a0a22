"""Strict JSON: duplicate keys, NaN/Infinity, overflow and bad UTF-8 are malformed, clearly."""

from __future__ import annotations

import pytest

from pipeserve.errors import MalformedRequestError
from pipeserve.protocols.jsonbody import parse_json


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'{"a" :1, "a": 2}',
        b'{"instances": [{"x": 1, "y": 2, "x": 3}]}',
        b'[1, {"k": 1, "k": 1}]',  # an object after a scalar in the same list
        b'{"url": "http://h:1", "url": "x"}',  # colons inside strings
    ],
)
def test_a_key_named_twice_is_refused_naming_it(body: bytes) -> None:
    with pytest.raises(MalformedRequestError, match=r"names the key '.+' twice"):
        parse_json(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "b": {"a": 2}}',  # the same key in different objects is fine
        b'{"t": "12:30", "u": "a\\":b"}',  # colons and escaped quotes inside strings
        b'[1, {"k": 1}, {"k": 2}]',
        b'{"a"\n :\t1}',
    ],
)
def test_valid_documents_parse_to_their_value(body: bytes) -> None:
    import json

    assert parse_json(body) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": NaN}', "NaN and Infinity are not JSON numbers"),
        (b'{"a": -Infinity}', "NaN and Infinity are not JSON numbers"),
        (b'{"a": 1e400}', "overflows a double"),
        (b'{"a": "\xff"}', "not valid JSON"),
        (b'{"a": 1', "not valid JSON"),
        (b"[" * 2000 + b"]" * 2000, "not valid JSON"),
    ],
)
def test_what_is_not_json_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(MalformedRequestError, match=message):
        parse_json(body)
