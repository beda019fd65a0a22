"""The pages for people: the model list at / and each model's card, under a policy that allows
no script and nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from flask.testing import FlaskClient
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from pipeserve.api import create_app
from pipeserve.bundle import build_bundle
from pipeserve.settings import Settings
from pipeserve.training.evaluate import evaluate
from pipeserve.training.figures import residual_svg
from pipeserve.training.publish import publish
from tests.conftest import copy_bundle


def test_the_index_lists_every_model_with_its_links(multi_client: FlaskClient) -> None:
    page = multi_client.get("/")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    for name in ("iris", "colours"):
        assert f'href="/models/{name}"' in html
        assert f'href="/api/v1/models/{name}"' in html
    assert "ready" in html


def test_pages_allow_no_script_and_nothing_from_elsewhere(client: FlaskClient) -> None:
    for path in ("/", "/models/iris", "/static/pages/card.css"):
        response = client.get(path)
        response.close()  # the stylesheet is a file response
        policy = response.headers["Content-Security-Policy"]

        assert "script-src" not in policy  # default-src 'none' forbids every script
        assert policy.startswith("default-src 'none'")
        assert "'unsafe-inline'" not in policy
    html = client.get("/models/iris").get_data(as_text=True)
    assert "<script" not in html
    assert " style=" not in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)


def test_the_card_shows_version_digest_metrics_inputs_and_examples(client: FlaskClient) -> None:
    metadata = client.get("/api/v1/models/iris").get_json()

    page = client.get("/models/iris")
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    assert page.headers["X-Model-Digest"] == metadata["digest"]
    assert '<span class="version" id="version">version 7</span>' in html
    assert f'<code id="digest">{metadata["digest"]}</code>' in html
    assert f'id="metric-accuracy">{metadata["metrics"]["accuracy"]}<' in html
    for feature in metadata["inputs"]:
        assert f"{feature['minimum']:g} to {feature['maximum']:g}" in html
    for route in (
        "/api/v1/models/iris/predict",
        "/v1/models/iris:predict",
        "/v2/models/iris/infer",
    ):
        assert route in html
    for item in metadata["lineage"]["inputs"]:
        assert item["md5"] in html


def test_the_pictures_are_the_bundles_own_files(client: FlaskClient, bundle_dir: Path) -> None:
    html = client.get("/models/iris").get_data(as_text=True)
    sources = re.findall(r'<img id="(\w+)" src="([^"]+)"', html)

    assert {name for name, _ in sources} == {"confusion", "pipeline"}
    for name, source in sources:
        picture = client.get(source)
        assert picture.mimetype == "image/svg+xml"
        assert picture.data == (bundle_dir / f"{name}.svg").read_bytes()
        assert b"<script" not in picture.data
    assert client.get("/models/iris/figures/residuals.svg").status_code == 404


def test_an_unknown_model_has_no_card(client: FlaskClient) -> None:
    page = client.get("/models/nope")

    assert page.status_code == 404
    assert page.get_json()["code"] == "model_not_found"


def test_with_api_tokens_the_cards_need_one_like_the_metadata(model_dir: Path) -> None:
    settings = Settings(model_dir=model_dir, log_level="WARNING", api_tokens="secret")

    with create_app(settings).test_client() as client:
        refused = client.get("/models/iris")
        allowed = client.get("/models/iris", headers={"Authorization": "Bearer secret"})

    assert refused.status_code == 401
    assert allowed.status_code == 200


# --- other versions: a card each, linked from / and from the default card -------------------


@pytest.fixture
def versions_client(tmp_path: Path, session_bundle: Path) -> Iterator[FlaskClient]:
    repository = tmp_path / "repo"
    for version in ("1", "2"):
        copy_bundle(session_bundle, repository / "iris" / version, version)
    settings = Settings(model_dir=repository, log_level="WARNING")
    with create_app(settings).test_client() as client:
        yield client


def test_every_version_has_a_card_linked_from_the_index_and_the_default_card(
    versions_client: FlaskClient,
) -> None:
    index = versions_client.get("/").get_data(as_text=True)
    default = versions_client.get("/models/iris").get_data(as_text=True)

    page = versions_client.get("/models/iris/versions/1")
    html = page.get_data(as_text=True)

    assert 'href="/models/iris/versions/1"' in index
    assert 'href="/models/iris/versions/2"' in index
    assert 'href="/models/iris/versions/1"' in default
    assert 'id="not-default"' not in default
    assert page.status_code == 200
    assert page.headers["X-Model-Version"] == "1"
    assert '<span class="version" id="version">version 1</span>' in html
    assert 'id="not-default"' in html
    assert 'href="/models/iris">version 2</a>' in html  # back to the default card
    metadata = versions_client.get("/api/v1/models/iris/versions/1").get_json()
    assert page.headers["X-Model-Digest"] == metadata["digest"]
    assert f'<code id="digest">{metadata["digest"]}</code>' in html


def test_a_version_card_shows_that_versions_own_pictures_under_the_same_policy(
    versions_client: FlaskClient, session_bundle: Path
) -> None:
    page = versions_client.get("/models/iris/versions/1")
    html = page.get_data(as_text=True)
    sources = dict(re.findall(r'<img id="(\w+)" src="([^"]+)"', html))

    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<script" not in html
    assert sources["confusion"] == "/models/iris/versions/1/figures/confusion.svg"
    picture = versions_client.get(sources["confusion"])
    assert picture.headers["X-Model-Version"] == "1"
    assert picture.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert picture.data == (session_bundle / "confusion.svg").read_bytes()


def test_an_unknown_version_has_no_card(versions_client: FlaskClient) -> None:
    page = versions_client.get("/models/iris/versions/9")

    assert page.status_code == 404
    assert page.get_json()["code"] == "model_not_found"
    assert versions_client.get("/models/iris/versions/9/figures/confusion.svg").status_code == 404


# --- a regressor's card: the residual plot in place of the confusion matrix ------------------


def _flats(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(20, 120, rows)
    return pd.DataFrame({"area": area, "price": area * 12.0 + rng.normal(0, 20, rows)})


@pytest.fixture(scope="module")
def regressor_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Ridge bundled with the Python API, then evaluated and published as the DVC stages
    do (the evaluate stage's actual,predicted table becomes the residual plot)."""
    work = tmp_path_factory.mktemp("regressor")
    train_rows, test_rows = _flats(200, 1), _flats(80, 2)
    train_csv, test_csv = work / "train.csv", work / "test.csv"
    train_rows.to_csv(train_csv, index=False)
    test_rows.to_csv(test_csv, index=False)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", Ridge())])
    pipeline.fit(train_rows[["area"]], train_rows["price"])
    build_bundle(pipeline, train_rows, work / "trained", target="price", name="flats", version="1")
    evaluate(work / "trained", test_csv, "price", work / "m.json", work / "c.csv")
    output = work / "models" / "flats"
    publish(work / "trained", work / "m.json", [train_csv, test_csv], {}, output,
            confusion_path=work / "c.csv")  # fmt: skip
    return output


def test_a_regressors_card_shows_its_residual_plot(tmp_path: Path, regressor_bundle: Path) -> None:
    settings = Settings(model_dir=regressor_bundle.parent, log_level="WARNING")
    with create_app(settings).test_client() as client:
        html = client.get("/models/flats").get_data(as_text=True)
        sources = dict(re.findall(r'<img id="(\w+)" src="([^"]+)"', html))
        picture = client.get(sources["residuals"])

    assert set(sources) == {"residuals", "pipeline"}
    assert 'id="metric-rmse"' in html
    assert picture.mimetype == "image/svg+xml"
    assert picture.data == (regressor_bundle / "residuals.svg").read_bytes()
    svg = picture.get_data(as_text=True)
    assert svg.count("<circle ") == 80  # one point per test row
    assert "80 test rows" in svg
    assert "<script" not in svg


def test_the_residual_plot_is_the_same_bytes_for_the_same_results() -> None:
    actual, predicted = [1.0, 2.5, 3.0, 10.0], [1.5, 2.0, 3.0, 9.0]

    first = residual_svg(actual, predicted)

    assert residual_svg(list(actual), list(predicted)) == first
    assert residual_svg(actual, [1.5, 2.0, 3.0, 9.5]) != first
    assert first.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
