"""The pages for people: the model list at / and each model's card, under a policy that allows
no script and nothing from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from pipeserve.api import create_app
from pipeserve.settings import Settings


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
