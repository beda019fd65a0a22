"""Every protocol route against the real server process, and a real third-party V2 client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import FEATURES, copy_bundle
from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

ROWS = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [6.7, 3.0, 5.2, 2.3]])


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, session_bundle: Path, colour_bundle: Path
) -> Iterator[str]:
    """iris versions 1 and 2 and the string-feature colours model, served by the real server."""
    root = tmp_path_factory.mktemp("protocols")
    for version in ("1", "2"):
        copy_bundle(session_bundle, root / "models" / "iris" / version, version)
    shutil.copytree(colour_bundle, root / "models" / "colours")
    with running_server(root / "server.log", model_dir=str(root / "models")) as running:
        yield running.base


def _friendly_labels(server: str, rows: np.ndarray) -> list[str]:
    instances = [dict(zip(FEATURES, map(float, row), strict=True)) for row in rows]
    response = requests.post(
        f"{server}/api/v1/models/iris/predict", json={"instances": instances}, timeout=10
    )
    return [p["label"] for p in response.json()["predictions"]]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models", {"models": ["colours", "iris"]}),
        ("/v1/models/iris", {"name": "iris", "ready": True}),
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
        ("/v2/models/iris/ready", {"name": "iris", "ready": True}),
        ("/v2/models/iris/versions/1/ready", {"name": "iris", "ready": True}),
    ],
)
def test_status_routes_answer(server: str, path: str, expected: dict[str, Any]) -> None:
    response = requests.get(f"{server}{path}", timeout=10)

    assert (response.status_code, response.json()) == (200, expected)


def test_metadata_routes_name_versions_and_tensors(server: str) -> None:
    root = requests.get(f"{server}/v2", timeout=10).json()
    default = requests.get(f"{server}/v2/models/iris", timeout=10).json()
    older = requests.get(f"{server}/v2/models/iris/versions/1", timeout=10).json()

    assert root["name"] == "pipeserve"
    assert default["versions"] == ["1", "2"]
    assert [tensor["name"] for tensor in default["inputs"]] == FEATURES
    assert older["inputs"] == default["inputs"]


def test_v1_predict_and_v2_infer_agree_with_the_friendly_api(server: str) -> None:
    expected = _friendly_labels(server, ROWS)
    v1 = requests.post(
        f"{server}/v1/models/iris:predict", json={"instances": ROWS.tolist()}, timeout=10
    ).json()
    v2 = requests.post(
        f"{server}/v2/models/iris/versions/2/infer",
        json={
            "inputs": [
                {"name": name, "shape": [3], "datatype": "FP64", "data": ROWS[:, i].tolist()}
                for i, name in enumerate(FEATURES)
            ]
        },
        timeout=10,
    ).json()

    assert v1["predictions"] == expected
    assert v2["model_version"] == "2"
    assert v2["outputs"][0]["data"] == expected


@pytest.mark.parametrize(
    ("path", "document", "status", "message"),
    [
        ("/v2/models/wine/infer", {"inputs": []}, 404, "not served here"),
        ("/v2/models/iris/versions/5/infer", {"inputs": []}, 404, "no version '5'"),
        (
            "/v2/models/iris/infer",
            {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
            400,
            "has 2 columns",
        ),
        (
            "/v2/models/colours/infer",
            {"inputs": [{"name": "colour", "shape": [1], "datatype": "FP64", "data": [1]}]},
            400,
            "send it as BYTES",
        ),
        (
            "/v2/models/colours/infer",
            {"inputs": [{"name": "colour", "shape": [1], "datatype": "BYTES", "data": ["red"]}]},
            400,
            "missing input: size",
        ),
        ("/v1/models/wine:predict", {"instances": [[1]]}, 404, "not served here"),
    ],
)
def test_errors_are_json_with_the_protocol_status(
    server: str, path: str, document: dict[str, Any], status: int, message: str
) -> None:
    response = requests.post(f"{server}{path}", json=document, timeout=10)

    assert response.status_code == status
    assert message in response.json()["error"]


def test_the_triton_client_gets_the_labels_of_the_friendly_api(server: str) -> None:
    client = triton.InferenceServerClient(url=server.removeprefix("http://"))
    try:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("iris")
        metadata = client.get_model_metadata("iris")
        tensor = triton.InferInput("input-0", list(ROWS.shape), "FP64")
        tensor.set_data_from_numpy(ROWS)  # binary tensor extension, the client's default
        result = client.infer(
            "iris",
            [tensor],
            outputs=[
                triton.InferRequestedOutput("predict"),
                triton.InferRequestedOutput("predict_proba"),
            ],
        )
    finally:
        client.close()

    labels = [
        label.decode() if isinstance(label, bytes) else label
        for label in result.as_numpy("predict")
    ]
    assert metadata["versions"] == ["1", "2"]
    assert labels == _friendly_labels(server, ROWS)
    assert result.as_numpy("predict_proba").shape == (3, 3)


def test_the_triton_client_sends_strings_and_sees_errors(server: str) -> None:
    client = triton.InferenceServerClient(url=server.removeprefix("http://"))
    try:
        colour = triton.InferInput("colour", [2], "BYTES")
        colour.set_data_from_numpy(np.array([b"red", b"blue"], dtype=object))
        size = triton.InferInput("size", [2], "FP32")
        size.set_data_from_numpy(np.array([1.0, 9.5], dtype=np.float32), binary_data=False)
        result = client.infer("colours", [colour, size], model_version="1")
        with pytest.raises(InferenceServerException, match="not served here"):
            client.infer("wine", [colour])
    finally:
        client.close()

    assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predict")] == [
        "yes",
        "yes",
    ]
