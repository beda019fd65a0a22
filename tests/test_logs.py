"""The access log's direct lines are the JSON formatter's lines; anything else on the logger
still sees every record."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from pipeserve.logs import JsonFormatter, JsonLines, configure_logging, flush_lines


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Path]:
    """pipeserve's JSON handler writing into a file."""
    configure_logging("INFO", "json")
    handler = next(h for h in logging.getLogger("pipeserve").handlers if h.formatter)
    path = tmp_path / "log.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        previous = handler.setStream(stream)  # type: ignore[attr-defined]
        try:
            yield path
        finally:
            handler.setStream(previous)  # type: ignore[attr-defined]


def test_a_direct_line_has_the_fields_of_a_formatted_record(sink: Path) -> None:
    JsonLines("pipeserve.access", "request").info({"status": 200, "model": "iris"})
    flush_lines()
    logging.getLogger("pipeserve.access").info("request", extra={"status": 200, "model": "iris"})

    direct, formatted = (orjson.loads(line) for line in sink.read_text().splitlines())
    assert direct.keys() == formatted.keys()
    assert {k: v for k, v in direct.items() if k != "time"} == {
        k: v for k, v in formatted.items() if k != "time"
    }
    assert direct["time"][:16] == formatted["time"][:16]  # same minute, same format
    assert len(direct["time"]) == len(formatted["time"])


def test_records_go_through_logging_when_someone_else_listens(
    sink: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("pipeserve"), "propagate", True)
    with caplog.at_level(logging.INFO, logger="pipeserve.access"):
        JsonLines("pipeserve.access", "request").info({"status": 404})

    records = [r for r in caplog.records if r.name == "pipeserve.access"]
    assert records
    assert all(r.status == 404 for r in records)  # type: ignore[attr-defined]
    assert isinstance(logging.getLogger("pipeserve").handlers[0].formatter, JsonFormatter)


def test_direct_lines_are_written_within_the_flush_interval(sink: Path) -> None:
    """Buffered (one write for many lines), but never held back longer than 50 ms."""
    lines = JsonLines("pipeserve.access", "request")
    for status in range(200, 300):
        lines.info({"status": status})
    deadline = time.monotonic() + 5  # generous on a busy machine; the interval is 50 ms
    while len(sink.read_text().splitlines()) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)

    statuses = [orjson.loads(line)["status"] for line in sink.read_text().splitlines()]
    assert statuses == list(range(200, 300))  # every line, in order


def test_lines_of_a_closed_stream_never_reach_the_next_one_on_its_descriptor(
    tmp_path: Path,
) -> None:
    configure_logging("INFO", "json")
    handler = next(h for h in logging.getLogger("pipeserve").handlers if h.formatter)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    stream = first.open("w", encoding="utf-8")
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    JsonLines("pipeserve.access", "request").info({"status": 500})  # queued, not yet written
    handler.setStream(previous)  # type: ignore[attr-defined]
    stream.close()
    with second.open("w", encoding="utf-8") as stream:  # very likely the same descriptor
        handler.setStream(stream)  # type: ignore[attr-defined]
        try:
            JsonLines("pipeserve.access", "request").info({"status": 200})
            flush_lines()
        finally:
            handler.setStream(previous)  # type: ignore[attr-defined]

    assert [orjson.loads(line)["status"] for line in second.read_text().splitlines()] == [200]


def test_nothing_is_written_below_the_level(sink: Path) -> None:
    configure_logging("WARNING", "json")
    JsonLines("pipeserve.access", "request").info({"status": 200})
    assert sink.read_text() == ""
