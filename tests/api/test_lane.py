"""The prediction lane answers exactly what Flask's request cycle answers, and takes the happy
path of every predict route (a renamed route or a new protocol that silently fell back to the
slow path would show here, not only in the benchmark)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from apiflask import APIFlask
from flask import request_started
from pydantic import SecretStr
from werkzeug.test import Client, TestResponse

from pipeserve.api import create_app
from pipeserve.api.lane import PredictionLane
from pipeserve.settings import Settings
from tests.conftest import FEATURES

TOKEN = "lane-token"  # noqa: S105  # nosec B105 - a token this test's app accepts
IRIS = dict(zip(FEATURES, [5.1, 3.5, 1.4, 0.2], strict=True))
V2_INPUTS = [
    {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
    for name, value in IRIS.items()
]


@dataclass(frozen=True)
class Exchange:
    id: str
    path: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    scheme: str = "http"

    def send(self, client: Client) -> TestResponse:
        data = self.body if isinstance(self.body, bytes) else orjson.dumps(self.body)
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        return client.post(
            self.path, data=data, headers=headers, base_url=f"{self.scheme}://localhost"
        )


AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
HAPPY = [
    Exchange("friendly", "/api/v1/models/iris/predict", {"instances": [IRIS]}, AUTHORIZED),
    Exchange(
        "friendly, named version",
        "/api/v1/models/iris/versions/7/predict",
        {"instances": [IRIS, IRIS], "probabilities": False},
        AUTHORIZED,
    ),
    Exchange(
        "friendly, caller's request id, behind TLS",
        "/api/v1/models/iris/predict",
        {"instances": [IRIS]},
        {**AUTHORIZED, "X-Request-ID": "trace-7"},
        scheme="https",
    ),
    Exchange(
        "KServe V1",
        "/v1/models/iris:predict",
        {"instances": [list(IRIS.values())], "parameters": {"probabilities": True}},
        AUTHORIZED,
    ),
    Exchange("V2", "/v2/models/iris/infer", {"inputs": V2_INPUTS}, AUTHORIZED),
    Exchange(
        "V2 untyped, named version",
        "/v2/models/iris/versions/7/infer",
        {"inputs": V2_INPUTS},
        AUTHORIZED,
        content_type=None,
    ),
    Exchange(
        "JSON with a charset",
        "/api/v1/models/iris/predict",
        {"instances": [IRIS]},
        AUTHORIZED,
        content_type="application/json; charset=utf-8",
    ),
]
REFUSED = [
    Exchange("no token", "/api/v1/models/iris/predict", {"instances": [IRIS]}),
    Exchange(
        "wrong token",
        "/v2/models/iris/infer",
        {"inputs": V2_INPUTS},
        {"Authorization": "Bearer nope"},
    ),
    Exchange("unknown model", "/api/v1/models/nope/predict", {"instances": [IRIS]}, AUTHORIZED),
    Exchange(
        "unknown model and not JSON (404 before 415, as the view checks)",
        "/v1/models/nope:predict",
        b"a,b",
        AUTHORIZED,
        content_type="text/csv",
    ),
    Exchange(
        "unknown version", "/v2/models/iris/versions/9/infer", {"inputs": V2_INPUTS}, AUTHORIZED
    ),
    Exchange(
        "not JSON", "/api/v1/models/iris/predict", b"a,b", AUTHORIZED, content_type="text/csv"
    ),
    Exchange(
        "compressed",
        "/api/v1/models/iris/predict",
        b"\x1f\x8b",
        {**AUTHORIZED, "Content-Encoding": "gzip"},
    ),
    Exchange("malformed JSON", "/v1/models/iris:predict", b"{", AUTHORIZED),
    Exchange(
        "a string for a number",
        "/api/v1/models/iris/predict",
        {"instances": [{**IRIS, "sepal_length": "5.1"}]},
        AUTHORIZED,
    ),
    Exchange(
        "out of the training range (reject)",
        "/v2/models/iris/infer",
        {"inputs": [{**V2_INPUTS[0], "data": [500.0]}, *V2_INPUTS[1:]]},
        AUTHORIZED,
    ),
    Exchange("empty body", "/v1/models/iris:predict", b"", AUTHORIZED),
]


@pytest.fixture
def app(model_dir: Path) -> APIFlask:
    return create_app(
        Settings(model_dir=model_dir, api_tokens=SecretStr(TOKEN), out_of_range="reject")
    )


@contextmanager
def _flask_cycles(app: APIFlask) -> Iterator[list[object]]:
    """The requests that went through Flask's request cycle while in the block."""
    seen: list[object] = []

    def count(sender: object, **_: object) -> None:
        seen.append(sender)

    request_started.connect(count, app)
    try:
        yield seen
    finally:
        request_started.disconnect(count, app)


def _comparable(response: TestResponse) -> tuple[int, dict[str, str], Any]:
    headers = {name: value for name, value in response.headers.items() if name != "X-Request-ID"}
    body = orjson.loads(response.data)
    if isinstance(body, dict):
        body.pop("request_id", None)  # a problem's request id is new for each request
    return response.status_code, headers, body


def _lane(app: APIFlask) -> PredictionLane:
    lane = app.wsgi_app
    assert isinstance(lane, PredictionLane)
    return lane


@pytest.mark.parametrize("exchange", HAPPY + REFUSED, ids=lambda exchange: exchange.id)
def test_the_lane_answers_what_flask_answers(app: APIFlask, exchange: Exchange) -> None:
    through_lane = exchange.send(Client(app))
    through_flask = exchange.send(Client(_lane(app).flask))

    assert _comparable(through_lane) == _comparable(through_flask)
    assert through_lane.headers["X-Request-ID"]
    if "X-Request-ID" in exchange.headers:
        assert through_lane.headers["X-Request-ID"] == exchange.headers["X-Request-ID"]


@pytest.mark.parametrize("exchange", HAPPY, ids=lambda exchange: exchange.id)
def test_a_well_formed_prediction_skips_flasks_cycle(app: APIFlask, exchange: Exchange) -> None:
    with _flask_cycles(app) as cycles:
        response = exchange.send(Client(app))

    assert response.status_code == 200
    assert cycles == []


@pytest.mark.parametrize("exchange", REFUSED, ids=lambda exchange: exchange.id)
def test_a_refusal_is_rendered_by_flasks_cycle_once(app: APIFlask, exchange: Exchange) -> None:
    """Rendered (and so logged and counted) once, by the one error mapping; not predicted twice."""
    with _flask_cycles(app) as cycles:
        response = exchange.send(Client(app))

    assert response.status_code >= 400
    assert len(cycles) == 1


def test_a_rejected_prediction_is_monitored_once(app: APIFlask) -> None:
    """The lane hands over the error it met, instead of letting Flask predict again: the input
    monitor sees each request once."""
    (refusal,) = [exchange for exchange in REFUSED if exchange.id.startswith("out of")]
    client = Client(app)
    entry = app.extensions["pipeserve"]["dataplane"].version("iris")
    before = entry.monitor.seen

    assert refusal.send(client).status_code == 400
    assert entry.monitor.seen == before + 1
    assert entry.monitor.snapshot()["sepal_length"].out_of_range == 1
