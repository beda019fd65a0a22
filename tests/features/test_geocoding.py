"""The Geocoder transformer: scikit-learn's contract, failure policies, skops, pipelines."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeserve.bundle.trusted import TRUSTED_TYPES
from pipeserve.errors import AddressNotFoundError, GeocoderUnavailableError
from pipeserve.features.geocoders.base import GeocodeResult
from pipeserve.features.geocoding import Geocoder, join_address
from pipeserve.features.geography import NearestCityDistance, haversine_km
from pipeserve.features.interactions import RatioFeatures
from pipeserve.features.notes import RowNote, collecting


@parametrize_with_checks(
    [
        Geocoder(),
        Geocoder(on_failure="missing", min_population=15000),
        NearestCityDistance(cities=[[52.52, 13.40], [48.14, 11.58]]),
        RatioFeatures(ratios={"r": {"numerator": [0], "denominator": [1]}}),
    ]
)
def test_follows_the_scikit_learn_estimator_contract(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)


class FakeBackend:
    """Answers from a dict; counts calls; can fail like a service that is down."""

    def __init__(self, answers: dict[str, GeocodeResult], down: bool = False) -> None:
        self.answers = answers
        self.down = down
        self.calls: list[str] = []

    def geocode(self, address: str) -> GeocodeResult | None:
        self.calls.append(address)
        if self.down:
            raise GeocoderUnavailableError("the geocoding service timed out")
        return self.answers.get(address)


KOELN = GeocodeResult(50.94, 6.96, 0.6)


def test_address_columns_are_joined_and_geocoded(postal_file: Path) -> None:
    frame = pd.DataFrame(
        {
            "street": ["Hohe Str. 1", "Dorfweg 2", None],
            "postcode": [50667, 1945, 60311],
            "city": ["Köln", "Kroppen", "Frankfurt am Main"],
        }
    )
    geocoder = Geocoder(postal_codes=str(postal_file), places=None).fit(frame)

    result = geocoder.transform(frame)

    # 1945 (an integer column) is not "01945": only the town matches there.
    np.testing.assert_allclose(
        result, [[50.9387, 6.9547, 1.0], [51.3833, 13.80, 0.6], [50.1130, 8.6830, 1.0]]
    )
    assert list(geocoder.get_feature_names_out()) == ["latitude", "longitude", "geocode_quality"]
    assert geocoder.address_field_ == "street+postcode+city"


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["Hauptstr. 1", 50667.0, " Köln "], "Hauptstr. 1, 50667, Köln"),
        ([None, math.nan, ""], ""),
        ([np.float64(1.5)], "1.5"),
    ],
)
def test_join_address(cells: list[object], expected: str) -> None:
    assert join_address(cells) == expected


def test_unmatched_addresses_are_missing_features_by_default() -> None:
    backend = FakeBackend({"Köln": KOELN})
    frame = pd.DataFrame({"address": ["Köln", "Atlantis", None]})

    result = Geocoder(backend).fit(frame).transform(frame)

    np.testing.assert_allclose(result[0], [50.94, 6.96, 0.6])
    assert np.isnan(result[1:, :2]).all()
    assert (result[1:, 2] == 0).all()
    assert backend.calls == ["Köln", "Atlantis"]  # an empty cell is not sent anywhere


def test_rows_given_imputed_coordinates_are_noted_for_the_server() -> None:
    frame = pd.DataFrame({"address": ["Köln", "Atlantis", None, "Köln", "Utopia"]})
    geocoder = Geocoder(FakeBackend({"Köln": KOELN})).fit(frame)

    with collecting() as notes:
        geocoder.transform(frame)

    unmatched = "matched no known place; coordinates imputed"
    assert notes == [
        RowNote(1, "address", unmatched, "address_unmatched", "matched no known place"),
        RowNote(4, "address", unmatched, "address_unmatched", "matched no known place"),
        RowNote(2, "address", "is empty; coordinates imputed", "address_empty", "is empty"),
    ]


def test_outside_a_prediction_nothing_is_collected() -> None:
    frame = pd.DataFrame({"address": ["Atlantis"]})
    geocoder = Geocoder(FakeBackend({})).fit(frame)

    geocoder.transform(frame)  # training, evaluation, a notebook: no collector, no effect
    with collecting() as notes:
        pass

    assert notes == []


def test_rows_not_looked_up_because_the_service_is_down_are_noted() -> None:
    frame = pd.DataFrame({"address": ["Köln", "Bonn"]})
    geocoder = Geocoder(FakeBackend({}, down=True)).fit(frame)

    with collecting() as notes:
        geocoder.transform(frame)

    assert [(note.row, note.kind) for note in notes] == [
        (0, "geocoder_unavailable"),
        (1, "geocoder_unavailable"),
    ]
    assert notes[0].detail == "could not be geocoded (service unavailable); coordinates imputed"


def test_the_reject_policy_names_the_field_and_the_rows() -> None:
    frame = pd.DataFrame({"address": ["Köln", "Atlantis", "", "Köln"]})
    geocoder = Geocoder(FakeBackend({"Köln": KOELN}), on_failure="reject").fit(frame)

    with pytest.raises(AddressNotFoundError) as raised:
        geocoder.transform(frame)

    assert raised.value.details["rows"] == [1, 2]
    assert raised.value.details["errors"] == [
        {"field": "address", "row": 1, "message": "matches no known place: 'Atlantis'"},
        {"field": "address", "row": 2, "message": "is empty"},
    ]
    assert raised.value.message.startswith("address of row 1 matches no known place")


def test_an_unavailable_service_is_asked_once_per_batch_and_gives_missing_features() -> None:
    backend = FakeBackend({}, down=True)
    frame = pd.DataFrame({"address": ["Köln", "Bonn", "Jena"]})

    result = Geocoder(backend).fit(frame).transform(frame)

    assert np.isnan(result[:, :2]).all()
    assert backend.calls == ["Köln"]


def test_an_unavailable_service_under_reject_is_a_typed_error_naming_the_field() -> None:
    frame = pd.DataFrame({"address": ["Köln"]})
    geocoder = Geocoder(FakeBackend({}, down=True), on_failure="reject").fit(frame)

    with pytest.raises(GeocoderUnavailableError, match="address field") as raised:
        geocoder.transform(frame)

    assert raised.value.details["field"] == "address"


@pytest.mark.parametrize(
    ("params", "message"),
    [({"backend": "google"}, "backend must be"), ({"on_failure": "ignore"}, "on_failure")],
)
def test_wrong_parameters_are_refused_at_fit(params: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Geocoder(**params).fit(pd.DataFrame({"address": ["Köln"]}))  # type: ignore[arg-type]


def test_round_trips_through_skops_with_the_trusted_types(postal_file: Path) -> None:
    frame = pd.DataFrame({"address": ["50667 Köln", "Kroppen", "nowhere"]})
    geocoder = Geocoder(postal_codes=str(postal_file), places=None).fit(frame)

    payload = skops.io.dumps(geocoder)
    untrusted = set(skops.io.get_untrusted_types(data=payload))
    loaded = skops.io.loads(payload, trusted=sorted(untrusted))

    assert untrusted <= TRUSTED_TYPES
    np.testing.assert_array_equal(loaded.transform(frame), geocoder.transform(frame))
    assert loaded.get_params() == geocoder.get_params()


def test_an_http_client_is_neither_persisted_nor_cloned(monkeypatch: pytest.MonkeyPatch) -> None:
    geocoder = Geocoder("nominatim").fit(pd.DataFrame({"address": ["Köln"]}))
    geocoder.__dict__["_client"] = FakeBackend({"Köln": KOELN})

    assert geocoder.transform(pd.DataFrame({"address": ["Köln"]}))[0, 2] == 0.6
    assert "_client" not in geocoder.__getstate__()
    assert "_client" not in clone(geocoder).__dict__


def test_inside_a_fitted_pipeline_the_address_text_drives_the_prediction(
    postal_file: Path,
) -> None:
    """North of 50° latitude is "yes": learnable only through geocoding."""
    towns = ["50667 Köln", "Kroppen", "60311 Frankfurt", "München", "Grünewald", "80331"]
    frame = pd.DataFrame({"address": towns * 5, "amount": np.arange(30.0)})
    labels = ["yes", "yes", "yes", "no", "yes", "no"] * 5
    place = Pipeline(
        [
            ("geocode", Geocoder(postal_codes=str(postal_file), places=None)),
            ("distance", NearestCityDistance(cities=[[52.52, 13.40]])),
        ]
    )
    pipeline = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("place", place, ["address"])],
                    remainder="passthrough",
                    verbose_feature_names_out=False,
                ),
            ),
            ("impute", SimpleImputer(add_indicator=True, keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, labels)

    predicted = pipeline.predict(
        pd.DataFrame({"address": ["Köln", "München", "Atlantis"], "amount": [3.0, 3.0, 3.0]})
    )

    assert list(predicted[:2]) == ["yes", "no"]
    assert list(pipeline[:-3].get_feature_names_out()) == [
        "latitude",
        "longitude",
        "geocode_quality",
        "distance_to_city_km",
        "amount",
    ]


def test_distance_to_the_nearest_city_in_km() -> None:
    distance = NearestCityDistance(cities=[[52.52, 13.40], [48.14, 11.58]]).fit(np.zeros((1, 3)))
    from_koeln = haversine_km(np.array([50.94]), np.array([6.96]), distance.cities_)[0]

    out = distance.transform(np.array([[50.94, 6.96, 1.0], [np.nan, np.nan, 0.0]]))

    assert from_koeln == pytest.approx([477, 456], abs=3)  # great-circle km to Berlin, Munich
    assert out[0, 3] == pytest.approx(from_koeln.min())
    assert math.isnan(out[1, 3])
    with pytest.raises(ValueError, match="n_features = 1"):
        NearestCityDistance(cities=[[0, 0]]).fit(np.zeros((2, 1)))


def test_default_large_cities_come_from_geonames() -> None:
    fitted = NearestCityDistance().fit(np.zeros((1, 2)))

    assert 10 <= len(fitted.cities_) <= 20  # Germany's cities of at least 500,000 people


def test_ratios_multiply_and_divide_named_columns() -> None:
    frame = pd.DataFrame({"amount": [1200.0, 600.0], "term": [12.0, 6.0], "income": [2000.0, 0.0]})
    ratios = {"burden": {"numerator": ["amount"], "denominator": ["term", "income"]}}
    transformer = RatioFeatures(ratios=ratios).fit(frame)

    out = transformer.transform(frame)

    assert out[0, 3] == pytest.approx(0.05)
    assert math.isnan(out[1, 3])  # no income: unknown, not infinite
    assert list(transformer.get_feature_names_out()) == ["amount", "term", "income", "burden"]
    with pytest.raises(ValueError, match="denominator"):
        RatioFeatures(ratios={"r": {"numerator": ["amount"]}}).fit(frame)  # type: ignore[dict-item]
