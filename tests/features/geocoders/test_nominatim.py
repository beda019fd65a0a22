"""The HTTP backend against a local server on 127.0.0.1 answering like Nominatim and Photon."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline

from pipeserve.errors import (
    AddressNotFoundError,
    ConfigurationError,
    GeocoderUnavailableError,
)
from pipeserve.features.geocoders.nominatim import NominatimBackend, nominatim_quality
from pipeserve.features.geocoders.runtime import GeocoderSettings, geocoder_settings
from pipeserve.features.geocoding import Geocoder, configure_geocoders

# Nominatim's documented jsonv2 place (lat/lon are strings).
KOELN = {
    "place_id": 100149,
    "licence": "Data © OpenStreetMap contributors, ODbL 1.0.",
    "osm_type": "relation",
    "osm_id": 62578,
    "lat": "50.9381",
    "lon": "6.9570",
    "category": "boundary",
    "type": "administrative",
    "place_rank": 16,
    "importance": 0.78,
    "addresstype": "city",
    "name": "Köln",
    "display_name": "Köln, Nordrhein-Westfalen, Deutschland",
    "boundingbox": ["50.83", "51.08", "6.77", "7.16"],
}
PHOTON_KOELN = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [6.9570, 50.9381]},
            "properties": {"name": "Köln", "type": "city", "countrycode": "DE"},
        }
    ],
}

Reply = tuple[int, bytes, float]  # status, body, delay in seconds


class FakeService:
    """Serves scripted replies in order (the last one repeats) and records each request."""

    def __init__(self) -> None:
        self.replies: list[Reply] = [(200, orjson.dumps([KOELN]), 0.0)]
        self.requests: list[tuple[str, dict[str, list[str]], str]] = []
        self.answer: Callable[[str], Reply] | None = None
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                service.requests.append((parts.path, query, self.headers["User-Agent"]))
                if service.answer is not None:
                    status, body, delay = service.answer(query["q"][0])
                else:
                    index = min(len(service.requests), len(service.replies)) - 1
                    status, body, delay = service.replies[index]
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False  # a slow reply must not hold up the next test
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


def backend(service: FakeService, **kwargs: object) -> NominatimBackend:
    options: dict[str, object] = {"timeout": 0.5, "retries": 2, "sleep": lambda _: None}
    return NominatimBackend(service.url, **{**options, **kwargs})  # type: ignore[arg-type]


def test_asks_nominatim_with_the_documented_query_and_user_agent(service: FakeService) -> None:
    result = backend(service, user_agent="bank-scoring (ops@bank.example)", country="DE").geocode(
        "  Hohe Straße 1,\n Köln "
    )

    assert result is not None
    assert (result.latitude, result.longitude, result.quality) == (50.9381, 6.957, 0.7)
    path, query, agent = service.requests[0]
    assert path == "/search"
    assert query == {
        "q": ["Hohe Straße 1, Köln"],
        "format": ["jsonv2"],
        "limit": ["1"],
        "countrycodes": ["de"],
    }
    assert agent == "bank-scoring (ops@bank.example)"


def test_an_empty_answer_is_not_found(service: FakeService) -> None:
    service.replies = [(200, b"[]", 0.0)]

    assert backend(service).geocode("Atlantis") is None


def test_photon_geojson_is_understood(service: FakeService) -> None:
    service.replies = [(200, orjson.dumps(PHOTON_KOELN), 0.0)]

    result = backend(service, flavor="photon").geocode("Köln")

    assert result is not None
    assert (result.latitude, result.longitude, result.quality) == (50.9381, 6.957, 0.7)
    assert service.requests[0][0] == "/api"


def test_answers_are_cached_found_or_not(service: FakeService) -> None:
    client = backend(service, cache_size=10)

    for _ in range(3):
        client.geocode("Köln")
        client.geocode("  Köln ")

    assert len(service.requests) == 1


def test_without_a_cache_every_lookup_asks(service: FakeService) -> None:
    client = backend(service, cache_size=0)

    client.geocode("Köln")
    client.geocode("Köln")

    assert len(service.requests) == 2


def test_5xx_and_429_are_retried_a_bounded_number_of_times(service: FakeService) -> None:
    pauses: list[float] = []
    service.replies = [
        (503, b"busy", 0.0),
        (429, b"slow down", 0.0),
        (200, orjson.dumps([KOELN]), 0.0),
    ]

    result = backend(service, retries=2, sleep=pauses.append).geocode("Köln")

    assert result is not None
    assert len(service.requests) == 3
    assert pauses == [0.1, 0.2]


def test_gives_up_after_the_retries_with_a_typed_error(service: FakeService) -> None:
    service.replies = [(502, b"bad gateway", 0.0)]

    with pytest.raises(GeocoderUnavailableError, match=r"HTTP 502 after 3 tries"):
        backend(service, retries=2).geocode("Köln")
    assert len(service.requests) == 3


def test_a_4xx_is_not_retried(service: FakeService) -> None:
    service.replies = [(403, b"blocked", 0.0)]

    with pytest.raises(GeocoderUnavailableError, match="HTTP 403 after"):
        backend(service).geocode("Köln")
    assert len(service.requests) == 1


def test_a_slow_service_times_out_and_is_retried(service: FakeService) -> None:
    service.replies = [(200, orjson.dumps([KOELN]), 1.0)]
    started = time.monotonic()

    with pytest.raises(GeocoderUnavailableError, match="timed out"):
        backend(service, timeout=0.2, retries=1).geocode("Köln")

    assert len(service.requests) == 2
    assert time.monotonic() - started < 1.5


def test_a_timeout_then_an_answer_succeeds(service: FakeService) -> None:
    service.replies = [(200, b"[]", 1.0), (200, orjson.dumps([KOELN]), 0.0)]

    assert backend(service, timeout=0.2, retries=1).geocode("Köln") is not None


def test_a_refused_connection_is_unavailable(service: FakeService) -> None:
    client = backend(service, retries=1)
    service.server.shutdown()
    service.server.server_close()

    with pytest.raises(GeocoderUnavailableError, match="after 2 tries"):
        client.geocode("Köln")


@pytest.mark.parametrize("body", [b"<html>", b'{"error": "Unable to geocode"}', b'[{"lat": "x"}]'])
def test_an_answer_in_another_format_is_unavailable_not_a_crash(
    service: FakeService, body: bytes
) -> None:
    service.replies = [(200, body, 0.0)]

    with pytest.raises(GeocoderUnavailableError, match="not nominatim JSON"):
        backend(service).geocode("Köln")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host", "nominatim:8080"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ConfigurationError, match="http"):
        NominatimBackend(url)


@pytest.mark.parametrize(("rank", "quality"), [(30, 1.0), (26, 0.9), (16, 0.7), (8, 0.3)])
def test_quality_follows_the_place_rank(rank: int, quality: float) -> None:
    assert nominatim_quality(rank) == quality


# --- through the transformer, handed its GeocoderSettings -------------------------------


def settings_for(url: str | None) -> GeocoderSettings:
    return GeocoderSettings(
        url=url, user_agent="pipeserve-tests", timeout=0.2, retries=1, cache_size=100
    )


@pytest.fixture
def configured(service: FakeService) -> FakeService:
    service.answer = lambda q: (200, orjson.dumps([KOELN] if "Köln" in q else []), 0.0)
    return service


FRAME = pd.DataFrame({"address": ["Hohe Str. 1, Köln", "Atlantis", "Hohe Str. 1, Köln"]})


def fitted(service: FakeService, **params: object) -> Geocoder:
    geocoder = Geocoder("nominatim", **params).fit(FRAME)  # type: ignore[arg-type]
    assert configure_geocoders(geocoder, settings_for(service.url)) == 1
    return geocoder


def test_the_transformer_uses_the_configured_service_once_per_address(
    configured: FakeService,
) -> None:
    result = fitted(configured).transform(FRAME)

    np.testing.assert_allclose(result[0], [50.9381, 6.957, 0.7])
    assert np.isnan(result[1, :2]).all()
    assert [q["q"][0] for _, q, _ in configured.requests] == ["Hohe Str. 1, Köln", "Atlantis"]
    assert configured.requests[0][2] == "pipeserve-tests"


def test_reject_policy_over_http_names_the_row(configured: FakeService) -> None:
    geocoder = fitted(configured, on_failure="reject")

    with pytest.raises(AddressNotFoundError) as raised:
        geocoder.transform(FRAME)

    assert raised.value.details["rows"] == [1]


def test_a_service_outage_follows_the_policy(configured: FakeService) -> None:
    configured.answer = lambda q: (500, b"down", 0.0)

    missing = fitted(configured).transform(FRAME)
    with pytest.raises(GeocoderUnavailableError, match="address field"):
        fitted(configured, on_failure="reject").transform(FRAME)

    assert np.isnan(missing[:, :2]).all()


def test_settings_in_effect_reach_the_clones_a_fit_makes(configured: FakeService) -> None:
    pipeline = make_pipeline(make_column_transformer((Geocoder("nominatim"), ["address"])))

    with geocoder_settings(settings_for(configured.url)):
        result = pipeline.fit_transform(FRAME)

    np.testing.assert_allclose(result[0], [50.9381, 6.957, 0.7])
    with pytest.raises(ConfigurationError):  # outside the block, nothing is in effect
        clone(pipeline).fit_transform(FRAME)


def test_settings_handed_over_are_neither_persisted_nor_cloned(configured: FakeService) -> None:
    geocoder = fitted(configured)
    geocoder.transform(FRAME)

    assert "_runtime_settings" not in geocoder.__getstate__()
    assert "_client" not in geocoder.__getstate__()
    assert "_runtime_settings" not in clone(geocoder).__dict__


def test_new_settings_replace_an_open_client(configured: FakeService) -> None:
    geocoder = fitted(configured)
    geocoder.transform(FRAME.iloc[:1])
    configure_geocoders(geocoder, settings_for(None))

    with pytest.raises(ConfigurationError):
        geocoder.transform(FRAME.iloc[:1])


@pytest.mark.parametrize("given", [None, "without a URL"])
def test_without_a_url_no_address_leaves_the_process(
    service: FakeService, monkeypatch: pytest.MonkeyPatch, given: str | None
) -> None:
    monkeypatch.setenv("PIPESERVE_GEOCODER_URL", service.url)  # the environment is not read
    geocoder = Geocoder("photon").fit(FRAME)
    if given:
        configure_geocoders(geocoder, settings_for(None))

    with pytest.raises(ConfigurationError, match="PIPESERVE_GEOCODER_URL is not set"):
        geocoder.transform(FRAME)
    assert service.requests == []
