"""With several server workers, /metrics sums what every worker counted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
REQUESTS = 40


def test_counts_are_summed_over_the_workers(model_dir: Path, tmp_path: Path) -> None:
    with running_server(tmp_path / "server.log", model_dir=str(model_dir)) as server:
        for _ in range(REQUESTS):
            # A new connection each time, so that both workers get requests.
            response = requests.post(
                f"{server.base}/api/v1/models/iris/predict",
                json={"instances": [SETOSA]},
                headers={"Connection": "close"},
                timeout=10,
            )
            assert response.status_code == 200
        text = requests.get(f"{server.base}/metrics", timeout=10).text

    series = (
        'pipeserve_http_requests_total{method="POST",model="iris",'
        'route="/api/v1/models/<name>/predict",status="200"}'
    )
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, text
    assert float(match.group(1)) == REQUESTS
    predictions = re.search(
        r'^pipeserve_predictions_total\{label="setosa",model="iris",version="7"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    assert predictions
    assert float(predictions.group(1)) == REQUESTS
