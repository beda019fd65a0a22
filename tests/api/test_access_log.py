"""One JSON line per request with what operators search by; bodies only when sampled."""

from __future__ import annotations

import logging

import pytest

from pipeserve.api import create_app
from pipeserve.settings import Settings

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture(autouse=True)
def _propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let caplog see pipeserve's records (its handler does not propagate them)."""
    monkeypatch.setattr(logging.getLogger("pipeserve"), "propagate", True)


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "pipeserve.access"]


def _post(
    settings: Settings, caplog: pytest.LogCaptureFixture, count: int = 1
) -> list[logging.LogRecord]:
    client = create_app(settings).test_client()
    logging.getLogger("pipeserve").propagate = True  # restored by the _propagate fixture
    with caplog.at_level(logging.INFO, logger="pipeserve.access"):
        for _ in range(count):
            client.post(
                "/api/v1/models/iris/predict",
                json={"instances": [SETOSA]},
                headers={"X-Request-ID": "trace-42"},
            )
    return _access_records(caplog)


def test_each_request_is_one_line_without_the_body(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    (record,) = _post(settings.model_copy(update={"log_level": "INFO"}), caplog)

    assert record.method == "POST"  # type: ignore[attr-defined]
    assert record.path == "/api/v1/models/iris/predict"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.model == "iris"  # type: ignore[attr-defined]
    assert record.version == "7"  # type: ignore[attr-defined]
    assert record.request_id == "trace-42"  # type: ignore[attr-defined]
    assert record.duration_ms > 0  # type: ignore[attr-defined]
    assert not hasattr(record, "payload")


def test_bodies_are_logged_for_one_request_in_n_when_asked(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    records = _post(
        settings.model_copy(update={"log_level": "INFO", "log_payload_every": 2}), caplog, count=4
    )

    payloads = [getattr(record, "payload", None) for record in records]
    assert payloads[0] is None
    assert payloads[2] is None
    assert '"sepal_length"' in (payloads[1] or "")
    assert payloads[3] == payloads[1]


def test_the_access_log_can_be_switched_off(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert (
        _post(settings.model_copy(update={"log_level": "INFO", "access_log": False}), caplog) == []
    )
