"""Open Inference Protocol routes: health, metadata, readiness, inference; errors per the spec."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.settings import Settings
from tests.conftest import FEATURES, copy_bundle

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def _infer(client: FlaskClient, path: str, document: dict[str, Any]) -> Any:
    return client.post(path, data=orjson.dumps(document), content_type="application/json")


def test_server_metadata_and_health(multi_client: FlaskClient) -> None:
    assert multi_client.get("/v2").get_json()["name"] == "pipeserve"
    assert multi_client.get("/v2/health/live").get_json() == {"live": True}
    assert multi_client.get("/v2/health/ready").get_json() == {"ready": True}


def test_model_metadata_names_tensors_and_versions(multi_client: FlaskClient) -> None:
    metadata = multi_client.get("/v2/models/colours").get_json()
    versioned = multi_client.get("/v2/models/colours/versions/1")

    assert metadata["inputs"] == [
        {"name": "colour", "datatype": "BYTES", "shape": [-1]},
        {"name": "size", "datatype": "FP64", "shape": [-1]},
    ]
    assert [output["name"] for output in metadata["outputs"]] == ["predict", "predict_proba"]
    assert versioned.get_json() == metadata
    assert multi_client.get("/v2/models/colours/ready").get_json() == {
        "name": "colours",
        "ready": True,
    }
    assert multi_client.get("/v2/models/colours/versions/1/ready").status_code == 200


def test_a_2d_tensor_gets_the_same_labels_as_the_friendly_api(multi_client: FlaskClient) -> None:
    v2 = _infer(
        multi_client,
        "/v2/models/iris/infer",
        {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32", "data": ROWS}]},
    ).get_json()
    friendly = multi_client.post(
        "/api/v1/models/iris/predict",
        json={"instances": [dict(zip(FEATURES, row, strict=True)) for row in ROWS]},
    ).get_json()

    labels = next(o for o in v2["outputs"] if o["name"] == "predict")
    proba = next(o for o in v2["outputs"] if o["name"] == "predict_proba")
    assert labels["data"] == [p["label"] for p in friendly["predictions"]]
    assert np.allclose(
        np.reshape(proba["data"], proba["shape"]),
        [list(p["probabilities"].values()) for p in friendly["predictions"]],
        atol=1e-6,
    )


def test_string_features_travel_as_bytes_and_outputs_can_be_chosen(
    multi_client: FlaskClient,
) -> None:
    response = _infer(
        multi_client,
        "/v2/models/colours/versions/1/infer",
        {
            "id": "req-7",
            "inputs": [
                {"name": "colour", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
                {"name": "size", "shape": [2], "datatype": "FP64", "data": [1.0, 2.0]},
            ],
            "outputs": [{"name": "predict_proba"}],
        },
    )

    body = response.get_json()
    assert response.status_code == 200
    assert (body["model_name"], body["model_version"], body["id"]) == ("colours", "1", "req-7")
    assert [output["name"] for output in body["outputs"]] == ["predict_proba"]
    assert body["outputs"][0]["shape"] == [2, 2]


def test_binary_tensor_requests_without_content_type_are_read(multi_client: FlaskClient) -> None:
    sizes = np.array([9.0], dtype="<f8").tobytes()
    colours = struct.pack("<I", 4) + b"blue"
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "size",
                    "shape": [1],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(sizes)},
                },
                {
                    "name": "colour",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(colours)},
                },
            ],
            "outputs": [{"name": "predict", "parameters": {"binary_data": False}}],
        }
    )

    response = multi_client.post(
        "/v2/models/colours/infer",
        data=header + sizes + colours,
        headers={"Inference-Header-Content-Length": str(len(header))},
        content_type="",
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outputs"][0]["data"] == ["yes"]


def test_errors_follow_the_protocol(multi_client: FlaskClient) -> None:
    good = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]}
    cases = {
        "/v2/models/wine/infer": (good, 404, "not served here"),
        "/v2/models/iris/versions/9/infer": (good, 404, "no version '9'"),
        "/v2/models/iris/infer": (
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            400,
            "has 3 columns",
        ),
    }
    for path, (document, status, message) in cases.items():
        response = _infer(multi_client, path, document)
        assert response.status_code == status, path
        assert message in response.get_json()["error"], path
    wrong_type = _infer(
        multi_client,
        "/v2/models/iris/infer",
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": list("abcd")}]},
    )
    missing = _infer(
        multi_client,
        "/v2/models/iris/infer",
        {"inputs": [{"name": "sepal_length", "shape": [1], "datatype": "FP64", "data": [1.0]}]},
    )
    compressed = multi_client.post(
        "/v2/models/iris/infer", data=b"x", headers={"Content-Encoding": "gzip"}
    )
    assert (wrong_type.status_code, missing.status_code, compressed.status_code) == (400, 400, 415)
    assert missing.get_json()["error"].startswith("inputs.sepal_width is required (missing input")
    assert missing.get_json()["error"].endswith("(and 2 more problems)")
    assert "uncompressed" in compressed.get_json()["error"]
    assert multi_client.get("/v2/models/wine").status_code == 404
    assert multi_client.get("/v2/models/iris/versions/9/ready").status_code == 404


def test_a_model_that_failed_to_load_is_not_ready(tmp_path: Path, session_bundle: Path) -> None:
    copy_bundle(session_bundle, tmp_path / "models" / "iris")
    (tmp_path / "models" / "iris" / PIPELINE_FILE).write_bytes(b"tampered")
    client = create_app(Settings(model_dir=tmp_path / "models", log_level="ERROR")).test_client()

    model_ready = client.get("/v2/models/iris/ready")
    server_ready = client.get("/v2/health/ready")
    infer = _infer(
        client,
        "/v2/models/iris/infer",
        {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}]},
    )

    assert model_ready.status_code == 400
    assert "sha256" in model_ready.get_json()["error"]
    assert server_ready.status_code == 400
    assert infer.status_code == 503
