"""Byte-reproducible skops files: the same fitted pipeline always gives the same bytes.

skops writes three things that change from run to run although the pipeline does not: each
zip entry's modification time, the memory address (``id()``) of every object as its ``__id__``
(and as the name of each array's ``<id>.npy`` entry), and a random ``<uuid>.bin`` name for each
bytes object. :func:`canonical_skops` rewrites an archive with numbers in order of first use
instead of addresses and uuids and a fixed timestamp, so that a bundle rebuilt from the same
inputs, params and code has the same sha256 (and DVC sees nothing to do).

The rewrite is a renaming: ``__id__`` values keep their identity relations (an object stored
once and referenced twice still resolves to one object), and a file name maps to one new name.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

# The earliest time a zip header can hold; any constant would do.
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_SCHEMA = "schema.json"
# Entries skops names after an object's address (arrays) or a uuid (bytes).
_GENERATED_NAME = re.compile(
    r"^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\.\w+)$"
)


class _Renamer:
    """Numbers ``__id__`` values and generated entry names in order of first appearance.

    An immutable JSON value (a class name, a number) gets a number of its own at every
    occurrence: whether two equal strings of a fitted model are one object or two depends on
    how the run built them (measured: two builds of the iris bundle in two checkouts shared
    the class names of ``calibrated_classifiers_`` differently), and for a value that cannot
    change, sharing means nothing once loaded.
    """

    def __init__(self) -> None:
        self.ids: dict[int, int] = {}
        self.files: dict[str, str] = {}
        self.count = 0

    def _number(self, raw: int, node: dict[str, Any]) -> int:
        if _is_immutable_value(node):
            self.count += 1
            return self.count
        if raw not in self.ids:
            self.count += 1
            self.ids[raw] = self.count
        return self.ids[raw]

    def walk(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        renamed: dict[str, Any] = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
                renamed[key] = self._number(value, node)
            elif key == "file" and "__loader__" in node and isinstance(value, str):
                renamed[key] = self._file(value)
            else:
                renamed[key] = self.walk(value)
        return renamed

    def _file(self, name: str) -> str:
        match = _GENERATED_NAME.match(name)
        if match is None:
            return name
        if name not in self.files:
            self.files[name] = f"{len(self.files) + 1}{match.group(1)}"
        return self.files[name]


def _is_immutable_value(node: dict[str, Any]) -> bool:
    """A skops node holding a JSON string, number, boolean or null inline."""
    if node.get("__loader__") != "JsonNode" or node.get("is_json") is not True:
        return False
    content = node.get("content")
    if not isinstance(content, str):
        return False
    try:
        value = json.loads(content)
    except ValueError:
        return False
    return value is None or isinstance(value, str | int | float | bool)


def canonical_skops(data: bytes) -> bytes:
    """``data`` (a skops archive) with run-independent ids, entry names and timestamps.

    Raises :class:`ValueError` when ``data`` is not a skops archive (no ``schema.json``).
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        names = source.namelist()
        if _SCHEMA not in names:
            raise ValueError("not a skops archive: no schema.json")
        contents = {name: source.read(name) for name in names}
    renamer = _Renamer()
    schema = renamer.walk(json.loads(contents.pop(_SCHEMA)))
    entries = {renamer.files.get(name, name): payload for name, payload in contents.items()}
    # skops dumps its schema with json.dumps(indent=2); so do we (the loader only parses it).
    entries[_SCHEMA] = json.dumps(schema, indent=2).encode("utf-8")
    return deterministic_zip(entries)


def deterministic_zip(entries: dict[str, bytes]) -> bytes:
    """A zip archive of ``entries`` (name → bytes), sorted by name, uncompressed, with fixed
    timestamps and permissions: the bytes depend on the contents alone."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the build machine
            archive.writestr(info, entries[name])
    return buffer.getvalue()
