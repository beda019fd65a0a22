"""What a pipeline step can tell the server about the rows it transformed.

Some facts about an input are learned only inside the pipeline and cannot travel in the step's
output: a geocoder found no place for an address and handed on missing coordinates, which a
later imputer fills in. A step (pipeserve's or a user's own transformer) reports such a fact
from ``transform`` with :func:`note_rows`; while the server predicts, the notes are collected
(:func:`collecting`) and treated like the input monitor's own findings: a warning per
prediction, a 422 naming the field, or only counted, as ``PIPESERVE_OUT_OF_RANGE`` says, and
exported as ``pipeserve_input_out_of_range_total{kind=...}``. Outside a prediction (training,
evaluation, a notebook) :func:`note_rows` does nothing.

Rows are indices into the ``X`` the step was given, which are the request's rows as long as
the steps before it keep rows (scikit-learn's transformers do). Notes are collected in the
thread (context) that predicts; a step that fans out to other processes reports from the
thread that called it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RowNote:
    """One fact about one input row.

    ``feature`` names the input field it concerns (a request field, so a rejection can name
    it), ``detail`` says what happened, without the field's name, as a warning on the answer
    (``"matched no known place; coordinates imputed"``), ``refusal`` the same when the server
    refuses the request instead (``"matched no known place"``; empty: ``detail``), ``kind`` is
    a short stable word for the metrics' ``kind`` label.
    """

    row: int
    feature: str
    detail: str
    kind: str
    refusal: str = ""


_COLLECTOR: ContextVar[list[RowNote] | None] = ContextVar("pipeserve_row_notes", default=None)


def note_rows(
    rows: Iterable[int], feature: str, detail: str, kind: str, *, refusal: str = ""
) -> None:
    """Report that each of ``rows`` had ``feature`` ``detail`` (see :class:`RowNote`); a no-op
    unless a prediction is :func:`collecting`."""
    notes = _COLLECTOR.get()
    if notes is not None:
        notes.extend(RowNote(int(row), feature, detail, kind, refusal) for row in rows)


class collecting:  # used like a function: ``with collecting() as notes``
    """Collect the notes that steps report in this context into the list it yields (nested
    collections each get their own). A class, not a generator: it runs on every prediction
    of the frame path, and costs a third of ``contextlib.contextmanager``'s."""

    __slots__ = ("_notes", "_token")

    def __enter__(self) -> list[RowNote]:
        self._notes: list[RowNote] = []
        self._token = _COLLECTOR.set(self._notes)
        return self._notes

    def __exit__(self, *exc_info: object) -> None:
        _COLLECTOR.reset(self._token)
