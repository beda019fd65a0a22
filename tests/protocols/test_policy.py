"""What the protocols share: probabilities written as JSON objects of class names."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from pipeserve.protocols.policy import PROBABILITY_DIGITS, JsonStrings, ProbabilityObjects


def as_dicts(classes: list[str], probabilities: np.ndarray) -> list[bytes]:
    rows = np.round(probabilities, PROBABILITY_DIGITS).tolist()
    return [orjson.dumps(dict(zip(classes, row, strict=True))) for row in rows]


@pytest.mark.parametrize(
    "classes",
    [
        ["setosa", "versicolor", "virginica"],
        ["only"],
        ['say "no"', "back\\slash", "zürich", "line\nbreak", "0"],
    ],
)
def test_objects_are_the_bytes_orjson_writes_for_the_dicts(classes: list[str]) -> None:
    rng = np.random.default_rng(7)
    probabilities = rng.dirichlet(np.ones(len(classes)), size=257)
    probabilities[3] = 0.0
    probabilities[4, 0] = 1e-9  # rounds to 0
    probabilities[5, 0] = 1 / 3

    objects = ProbabilityObjects(classes).objects(probabilities)

    assert objects == as_dicts(classes, probabilities)


def test_numbers_that_are_not_finite_are_null_as_orjson_writes_them() -> None:
    probabilities = np.array([[np.nan, 1.0], [np.inf, 0.0]])

    objects = ProbabilityObjects(["a", "b"]).objects(probabilities)

    assert objects == [b'{"a":null,"b":1.0}', b'{"a":null,"b":0.0}']


def test_no_rows_are_no_objects() -> None:
    assert ProbabilityObjects(["a"]).objects(np.empty((0, 1))) == []
    assert ProbabilityObjects(["a", "b"]).objects(np.empty((0, 2))) == []


def test_strings_known_or_not_are_written_as_json() -> None:
    strings = JsonStrings(["setosa", 'say "no"'])

    assert strings.of(["setosa", 'say "no"', "new\ttab"]) == [
        b'"setosa"',
        b'"say \\"no\\""',
        b'"new\\ttab"',
    ]
