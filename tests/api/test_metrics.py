"""/metrics counts requests by route, model and status, predictions by class, models, in-flight."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


def _value(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} not in\n{text}"
    return float(match.group(1))


def test_requests_predictions_and_models_are_counted(client: FlaskClient) -> None:
    for _ in range(3):
        client.post("/api/v1/models/iris/predict", json={"instances": [SETOSA, SETOSA]})
    client.post("/api/v1/models/made-up-name/predict", json={"instances": [SETOSA]})

    response = client.get("/metrics")
    text = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    route = "/api/v1/models/<name>/predict"
    assert (
        _value(
            text,
            f'pipeserve_http_requests_total{{method="POST",model="iris",route="{route}",status="200"}}',
        )
        == 3
    )
    # An invented model name does not become a label value (no unbounded series).
    assert (
        _value(
            text,
            f'pipeserve_http_requests_total{{method="POST",model="",route="{route}",status="404"}}',
        )
        == 1
    )
    assert _value(text, 'pipeserve_predictions_total{label="setosa",model="iris",version="7"}') == 6
    assert (
        _value(text, 'pipeserve_model_info{model="iris",path="onnx",ready="true",version="7"}') == 1
    )
    assert _value(text, "pipeserve_http_requests_in_flight") == 1  # the scrape itself
    assert "pipeserve_http_request_duration_seconds_bucket" in text
    assert "_created" not in text


def test_unknown_routes_share_one_label(client: FlaskClient) -> None:
    client.get("/no/such/route/1")
    client.get("/no/such/route/2")

    text = client.get("/metrics").get_data(as_text=True)

    assert (
        _value(
            text,
            'pipeserve_http_requests_total{method="GET",model="",route="unmatched",status="404"}',
        )
        == 2
    )
