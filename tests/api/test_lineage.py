"""Every prediction names the exact bundle that answered: X-Model-Version and X-Model-Digest
on every protocol, the same digest as the model's metadata; V2 carries both in parameters."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings

ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
PREDICTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "friendly": ("/api/v1/models/iris/predict", {"instances": [ROW]}),
    "friendly, one version": ("/api/v1/models/iris/versions/7/predict", {"instances": [ROW]}),
    "KServe V1": ("/v1/models/iris:predict", {"instances": [ROW]}),
    "V2": (
        "/v2/models/iris/infer",
        {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [1, 4], "data": list(ROW.values())}
            ]
        },
    ),
}


def _post(client: FlaskClient, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, data=orjson.dumps(body), content_type="application/json")


@pytest.mark.parametrize("protocol", PREDICTIONS)
def test_every_prediction_names_version_and_bundle_digest(
    client: FlaskClient, bundle_dir: Path, protocol: str
) -> None:
    path, body = PREDICTIONS[protocol]
    expected = "sha256:" + hashlib.sha256((bundle_dir / "bundle.json").read_bytes()).hexdigest()

    response = _post(client, path, body)
    metadata = client.get("/api/v1/models/iris").get_json()

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["X-Model-Version"] == "7"
    assert response.headers["X-Model-Digest"] == expected
    assert metadata["digest"] == expected


def test_v2_answers_carry_version_and_digest_in_parameters(client: FlaskClient) -> None:
    path, body = PREDICTIONS["V2"]

    answer = _post(client, path, {**body, "parameters": {"trace": "abc"}}).get_json()

    assert answer["parameters"] == {
        "trace": "abc",
        "model_version": "7",
        "model_digest": client.get("/api/v1/models/iris").get_json()["digest"],
    }


def test_the_digest_changes_when_the_bundle_does(client: FlaskClient, bundle_dir: Path) -> None:
    before = client.get("/api/v1/models/iris").get_json()["digest"]
    manifest = bundle_dir / "bundle.json"
    manifest.write_bytes(manifest.read_bytes().replace(b'"version": "7"', b'"version": "8"'))
    settings = Settings(model_dir=bundle_dir.parent, log_level="WARNING")

    with create_app(settings).test_client() as reloaded:
        after = reloaded.get("/api/v1/models/iris").get_json()["digest"]

    assert after != before


def test_the_image_revision_is_in_the_metadata_not_in_the_bundle(
    model_dir: Path, bundle_dir: Path
) -> None:
    settings = Settings(model_dir=model_dir, log_level="WARNING", source_revision="abc123")

    with create_app(settings).test_client() as served:
        metadata = served.get("/api/v1/models/iris").get_json()

    assert metadata["source_revision"] == "abc123"
    assert b"abc123" not in (bundle_dir / "bundle.json").read_bytes()
    assert "git_revision" not in metadata["lineage"]
