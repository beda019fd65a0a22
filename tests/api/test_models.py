"""Model listing and metadata come from bundle.json; a broken bundle is reported, not fatal."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.bundle.manifest import PIPELINE_FILE
from pipeserve.settings import Settings
from tests.conftest import FEATURES, copy_bundle


def test_lists_the_served_models(client: FlaskClient) -> None:
    response = client.get("/api/v1/models")

    assert response.status_code == 200
    assert response.get_json() == {
        "models": [
            {
                "name": "iris",
                "ready": True,
                "version": "7",
                "error": None,
                "versions": [{"version": "7", "ready": True, "error": None, "reload_error": None}],
            }
        ]
    }


def test_describes_a_model_from_its_bundle(client: FlaskClient) -> None:
    response = client.get("/api/v1/models/iris")

    body = response.get_json()
    assert response.headers["X-Model-Version"] == "7"
    assert body["classes"] == ["setosa", "versicolor", "virginica"]
    assert [feature["name"] for feature in body["inputs"]] == FEATURES
    assert body["inputs"][0]["minimum"] < body["inputs"][0]["maximum"]
    assert set(body["example"]) == set(FEATURES)
    assert body["metrics"]["accuracy"] >= 0.9
    assert "per_class" in body["metrics"]
    assert [len(entry["md5"]) for entry in body["lineage"]["inputs"]] == [32, 32]
    assert body["estimator"] == "CalibratedClassifierCV"  # the final step of the iris SVM
    assert body["warnings"] == []


def test_an_unknown_model_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/models/wine")

    assert response.status_code == 404
    assert response.get_json()["code"] == "model_not_found"


def test_a_tampered_bundle_is_not_served_and_says_why(model_dir: Path, settings: Settings) -> None:
    (model_dir / "iris" / PIPELINE_FILE).write_bytes(b"swapped")
    client = create_app(settings).test_client()

    listing = client.get("/api/v1/models").get_json()["models"][0]
    ready = client.get("/readyz")
    predict = client.post("/api/v1/models/iris/predict", json={"instances": [{}]})

    assert listing["ready"] is False
    assert "does not match its recorded sha256" in listing["error"]
    assert ready.status_code == 503
    assert predict.status_code == 503
    assert predict.get_json()["code"] == "model_not_ready"
    assert "refusing to load it" in predict.get_json()["detail"]


def _versioned_client(tmp_path: Path, session_bundle: Path) -> FlaskClient:
    for version in ("1", "2"):
        copy_bundle(session_bundle, tmp_path / "repo" / "iris" / version, version)
    settings = Settings(model_dir=tmp_path / "repo", log_level="WARNING")
    return create_app(settings).test_client()


def test_each_version_can_be_described_and_used(tmp_path: Path, session_bundle: Path) -> None:
    client = _versioned_client(tmp_path, session_bundle)
    row = {"instances": [dict.fromkeys(FEATURES, 1.0)]}

    default = client.get("/api/v1/models/iris").get_json()
    older = client.get("/api/v1/models/iris/versions/1")
    predicted = client.post("/api/v1/models/iris/versions/1/predict", json=row)

    assert default["version"] == "2"
    assert [v["version"] for v in default["versions"]] == ["1", "2"]
    assert older.get_json()["version"] == "1"
    assert older.headers["X-Model-Version"] == "1"
    assert predicted.status_code == 200
    assert predicted.get_json()["model"] == {"name": "iris", "version": "1"}
    assert predicted.headers["X-Model-Version"] == "1"


def test_an_unknown_version_is_404_naming_the_versions(
    tmp_path: Path, session_bundle: Path
) -> None:
    client = _versioned_client(tmp_path, session_bundle)

    response = client.post("/api/v1/models/iris/versions/9/predict", json={"instances": [{}]})

    assert response.status_code == 404
    assert "no version '9' (available: 1, 2)" in response.get_json()["detail"]
