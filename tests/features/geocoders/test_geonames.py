"""GeoNames tables read for the gazetteer: the postal-code and dump formats, the default data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeserve.errors import ConfigurationError
from pipeserve.features.geocoders.geonames import default_places, read_places, read_postal_codes


def test_reads_the_geonames_postal_format_skipping_rows_without_coordinates(
    postal_file: Path,
) -> None:
    rows = read_postal_codes(postal_file, "DE")

    assert [r.code for r in rows] == ["50667", "50668", "60311", "01945", "01945", "80331"]
    assert rows[0].place_name == "Köln"
    assert rows[0].latitude == pytest.approx(50.9387)


def test_reads_populated_places_of_a_geonames_dump(places_file: Path) -> None:
    places = read_places(places_file, "DE")

    assert [p.name for p in places] == ["Neustadt", "Neustadt", "Munich", "Halle (Saale)"]
    assert places[2].alternate_names == ("München", "Muenchen", "MUC")
    assert places[2].population == 1_500_000


@pytest.mark.parametrize(
    ("text", "reader", "message"),
    [
        ("DE\t50667\tKöln\n", read_postal_codes, "has 3 columns"),
        ("1\tX\n", read_places, "has 2 columns"),
    ],
)
def test_a_file_in_another_format_is_refused_with_the_line(
    tmp_path: Path, text: str, reader: object, message: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigurationError, match=message):
        reader(path)  # type: ignore[operator]


def test_a_csv_without_the_geonames_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("zip,city\n50667,Köln\n", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="postal_code"):
        read_postal_codes(path)


def test_missing_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_postal_codes(tmp_path / "none.txt")
    with pytest.raises(ConfigurationError, match="does not exist"):
        read_places(tmp_path / "none.txt")


def test_the_default_places_are_real_german_towns_with_population() -> None:
    places = {p.name: p for p in default_places("DE", 500)}

    assert len(places) > 10_000
    assert places["Berlin"].population > 3_000_000
    assert places["Berlin"].admin1 == "16"


def test_the_default_data_accepts_only_the_populations_it_ships() -> None:
    with pytest.raises(ConfigurationError, match="15000"):
        default_places("DE", 100)
