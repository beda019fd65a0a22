"""Input rules generated from a bundle's manifest.

Validation itself is the column validator's (:mod:`pipeserve.protocols.columns`), shared by every
protocol and the batch reader. The OpenAPI document states the same rules as JSON Schema
(:mod:`pipeserve.protocols.schemas`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeserve.bundle.manifest import Manifest
from pipeserve.protocols.columns import (
    MAX_STRING_LENGTH,
    REQUIRED,
    ColumnValidator,
    invalid,
    invalid_fields,
    json_name,
)


class InstanceValidator:
    """One bundle's input rules: the column validator every protocol and the batch reader use,
    from its manifest and ``max_string_length``."""

    def __init__(self, manifest: Manifest, max_string_length: int = MAX_STRING_LENGTH) -> None:
        self.manifest = manifest
        self.max_string_length = max_string_length
        self.columns = ColumnValidator(manifest.features, max_string_length)

    def validate_row(self, row: Any, prefix: str = "") -> dict[str, Any]:
        """Return the row as ``{feature: value}`` or raise :class:`InvalidInputError` naming
        each problem at ``prefix.feature``."""
        if not isinstance(row, Mapping):
            field = prefix or "(row)"
            raise invalid(field, f"must be an object of named features, got {json_name(row)}")
        columns = self.columns
        errors: list[dict[str, str]] = []
        for index, name in enumerate(columns.names):
            message = columns.value_problem(index, row[name]) if name in row else REQUIRED
            if message is not None:
                errors.append({"field": f"{prefix}.{name}" if prefix else name, "message": message})
        errors.extend(
            {"field": f"{prefix}.{key}" if prefix else str(key), "message": columns.unknown_feature}
            for key in row
            if key not in columns.index
        )
        if errors:
            raise invalid_fields(errors)
        return {name: row[name] for name in columns.names}


__all__ = ["MAX_STRING_LENGTH", "InstanceValidator"]
