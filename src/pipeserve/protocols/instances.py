"""Instances as the friendly API and KServe V1 send them: a JSON array of rows, each an object of
named features (or, in V1, an array of values in feature order), turned into columns.

The common case (every row an object holding exactly the features, or every row an array of
the right length) is transposed in C (``itemgetter``/``zip``) and validated by column; anything
else is walked row by row, only to name each problem (``instances[3].petal_width is
required``).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, ClassVar

from pipeserve.inference.registry import ModelVersion
from pipeserve.protocols.columns import (
    REQUIRED,
    Column,
    ColumnValidator,
    invalid_fields,
    json_name,
)
from pipeserve.protocols.policy import (
    DecodedRequest,
    ProbabilityObjects,
    check_row_count,
    decode_checked,
)

FIELD = "instances"


class InstanceDecoder:
    """Columns from the ``instances`` of one model version's requests."""

    def __init__(self, validator: ColumnValidator, max_instances: int, *, arrays: bool) -> None:
        """``arrays``: whether an instance may be an array of values in feature order (V1)."""
        self.validator = validator
        self.max_instances = max_instances
        self.arrays = arrays
        names = validator.names
        self._width = len(names)
        self._getters = [itemgetter(name) for name in names]
        self._fields = [f"{FIELD}[{{}}].{name}" for name in names]
        self._not_a_row = (
            "must be an object of named features or an array of values in feature order"
            if arrays
            else "must be an object of named features"
        )
        self._wrong_length = (
            f"has {{}} values; expected {self._width} in this order: {', '.join(names)}"
        )

    def locate(self, feature: int, row: int) -> str:
        return self._fields[feature].format(row)

    def decode(self, instances: list[Any]) -> tuple[dict[str, Column], int]:
        """The validated columns, and how many object keys the instances hold (for the
        duplicate-key check). Raises :class:`InvalidInputError` naming every problem."""
        check_row_count(len(instances), self.max_instances, FIELD)
        raw = self._transpose(instances)
        if raw is None:
            raw = self._rows_by_hand(instances)
            keys = sum(len(row) for row in instances if type(row) is dict)
        else:
            keys = self._width * len(instances) if type(instances[0]) is dict else 0
        return self.validator.validate(raw, self.locate), keys

    def _transpose(self, instances: list[Any]) -> list[Any] | None:
        """Columns when every row has the common shape, else ``None``."""
        types = set(map(type, instances))
        if types != {dict} and (types != {list} or not self.arrays):
            return None
        if set(map(len, instances)) != {self._width}:
            return None
        if dict in types:
            try:
                return [list(map(getter, instances)) for getter in self._getters]
            except KeyError:  # as many keys as features, but not the features
                return None
        return list(zip(*instances, strict=True))

    def _rows_by_hand(self, instances: list[Any]) -> list[Any]:
        """Name every shape and value problem, row by row; the columns if there is none."""
        validator = self.validator
        problems: list[dict[str, str]] = []
        rows: list[tuple[Any, ...]] = []
        for row, instance in enumerate(instances):
            where = f"{FIELD}[{row}]"
            if type(instance) is list and self.arrays:
                if len(instance) != self._width:
                    problems.append(
                        {"field": where, "message": self._wrong_length.format(len(instance))}
                    )
                    continue
                values = tuple(instance)
                present = [True] * self._width
            elif type(instance) is dict:
                present = [name in instance for name in validator.names]
                values = tuple(instance.get(name) for name in validator.names)
            else:
                problems.append(
                    {"field": where, "message": f"{self._not_a_row}, got {json_name(instance)}"}
                )
                continue
            for index, value in enumerate(values):
                message = validator.value_problem(index, value) if present[index] else REQUIRED
                if message is not None:
                    problems.append({"field": self.locate(index, row), "message": message})
            if type(instance) is dict:
                problems.extend(
                    {"field": f"{where}.{key}", "message": validator.unknown_feature}
                    for key in instance
                    if key not in validator.index
                )
            rows.append(values)
        if problems:
            raise invalid_fields(problems)
        return list(zip(*rows, strict=True))


class InstanceCodec:
    """What the friendly API's and KServe V1's codecs share: one model version's instances,
    decoded by column, and their values located as ``instances[3].sepal_length``."""

    rows_field = FIELD
    arrays: ClassVar[bool] = False
    """Whether an instance may be an array of values in feature order (V1)."""

    def __init__(self, entry: ModelVersion, max_instances: int) -> None:
        if entry.manifest is None or entry.validator is None:
            raise ValueError(f"model {entry.label!r} is not ready; it has no input schema")
        self.manifest = entry.manifest
        self.classes = list(entry.manifest.classes)
        self.probability_objects = ProbabilityObjects(self.classes)
        self.max_instances = max_instances
        self.instances = InstanceDecoder(entry.validator.columns, max_instances, arrays=self.arrays)

    def decode(self, body: bytes) -> DecodedRequest:
        """Parse and validate a request body.

        Raises :class:`MalformedRequestError` when the body is not JSON (or not UTF-8) and
        :class:`InvalidInputError` naming every offending field otherwise.
        """
        return decode_checked(body, self._decode)

    def _decode(self, body: bytes) -> DecodedRequest:
        raise NotImplementedError  # pragma: no cover - each protocol's envelope

    def locate(self, request: DecodedRequest, feature: str, row: int) -> str:
        """Where one value of ``request`` was: ``instances[3].sepal_length``."""
        return self.instances.locate(self.instances.validator.index[feature], row)
