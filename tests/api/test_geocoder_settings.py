"""The geocoder of a served bundle uses the settings given to ``create_app``, and only those."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import orjson
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from pipeserve.api import create_app
from pipeserve.bundle.io import load_bundle
from pipeserve.features.geocoders.runtime import GeocoderSettings, geocoder_settings
from pipeserve.features.geocoding import Geocoder
from pipeserve.settings import Settings
from pipeserve.training.build import build_bundle
from tests.features.geocoders.test_nominatim import KOELN, FakeService

ADDRESSES = ["Hohe Str. 1, Köln", "Atlantis", "Domkloster 4, Köln", "Nowhere 1"]
PATH = "/api/v1/models/geo/predict"


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    fake.answer = lambda q: (200, orjson.dumps([KOELN] if "Köln" in q else []), 0.0)
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def geo_dir(tmp_path: Path, service: FakeService) -> Path:
    """A model repository with one bundle whose pipeline geocodes over HTTP (Nominatim)."""
    frame = pd.DataFrame({"address": ADDRESSES * 5})
    target = ["city", "none", "city", "none"] * 5
    pipeline = make_pipeline(
        make_column_transformer((Geocoder("nominatim"), ["address"])),
        DecisionTreeClassifier(random_state=0),
    )
    fit_settings = GeocoderSettings(service.url, "pipeserve-fit", 1.0, 0, 100)
    with geocoder_settings(fit_settings):  # compiling runs the head steps too
        pipeline.fit(frame, target)
        build_bundle(pipeline, frame, tmp_path / "geo", name="geo", version="1")
    service.requests.clear()
    return tmp_path


@pytest.mark.parametrize("path", ["sklearn", "auto"])
def test_the_service_given_to_create_app_is_asked(
    geo_dir: Path, service: FakeService, path: Literal["sklearn", "auto"]
) -> None:
    app = create_app(
        Settings(
            model_dir=geo_dir,
            inference_path=path,
            geocoder_url=service.url,
            geocoder_user_agent="pipeserve-served",
        )
    )

    answer = app.test_client().post(PATH, json={"instances": [{"address": "Am Hof 9, Köln"}]})

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["predictions"][0]["label"] == "city"
    asked = [(query["q"][0], agent) for _, query, agent in service.requests]
    assert ("Am Hof 9, Köln", "pipeserve-served") in asked
    if path == "auto":  # the compiled form, its geocoding head run in Python
        fast = load_bundle(geo_dir / "geo").manifest.fast_path
        assert fast is not None
        assert fast.verified
        assert fast.head_steps == 1


def test_the_environment_alone_does_not_reach_a_loaded_bundle(
    geo_dir: Path, service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings(model_dir=geo_dir, geocoder_url=None))
    monkeypatch.setenv("PIPESERVE_GEOCODER_URL", service.url)  # set after the settings were read

    client = app.test_client()
    models = client.get("/api/v1/models").get_json()
    answer = client.post(PATH, json={"instances": [{"address": "Am Hof 9, Köln"}]})

    assert answer.status_code == 503, answer.get_json()
    assert "PIPESERVE_GEOCODER_URL" in str(models)
    assert service.requests == []
