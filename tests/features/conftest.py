"""Small GeoNames-format tables written per test: the gazetteer's real file formats."""

from __future__ import annotations

from pathlib import Path

import pytest

# country, postal code, place, admin1 name/code, admin2 name/code, admin3 name/code, lat, lon, acc
POSTAL_ROWS = [
    (
        "DE",
        "50667",
        "Köln",
        "Nordrhein-Westfalen",
        "NW",
        "",
        "",
        "Köln",
        "05315",
        50.9387,
        6.9547,
        4,
    ),
    (
        "DE",
        "50668",
        "Köln",
        "Nordrhein-Westfalen",
        "NW",
        "",
        "",
        "Köln",
        "05315",
        50.9500,
        6.9600,
        4,
    ),
    ("DE", "60311", "Frankfurt am Main", "Hessen", "HE", "", "", "", "", 50.1130, 8.6830, 4),
    ("DE", "01945", "Grünewald", "Brandenburg", "BB", "", "", "", "", 51.40, 14.00, 4),
    ("DE", "01945", "Kroppen", "Brandenburg", "BB", "", "", "", "", 51.3833, 13.80, 4),
    ("DE", "80331", "München", "Bayern", "BY", "", "", "", "", 48.1372, 11.5755, 4),
    ("DE", "99999", "Nowhere", "", "", "", "", "", "", "", "", ""),  # no coordinates: skipped
    ("AT", "1010", "Wien", "Wien", "09", "", "", "", "", 48.2085, 16.3721, 4),
]

# geonameid, name, asciiname, alternatenames, lat, lon, class, code, country, cc2, admin1..4,
# population, elevation, dem, timezone, modified
PLACE_ROWS = [
    ("1", "Neustadt", "Neustadt", "", 50.0, 10.0, "P", "PPL", "DE", "", "02", "", "", "", 5000),
    ("2", "Neustadt", "Neustadt", "", 52.0, 12.0, "P", "PPL", "DE", "", "11", "", "", "", 20000),
    (
        "3",
        "Munich",
        "Munich",
        "München,Muenchen,MUC",
        48.14,
        11.58,
        "P",
        "PPLA",
        "DE",
        "",
        "02",
        "",
        "",
        "",
        1_500_000,
    ),
    (
        "4",
        "Halle (Saale)",
        "Halle",
        "",
        51.48,
        11.97,
        "P",
        "PPL",
        "DE",
        "",
        "14",
        "",
        "",
        "",
        238_000,
    ),
    ("5", "Zugspitze", "Zugspitze", "", 47.42, 10.98, "T", "MT", "DE", "", "02", "", "", "", 0),
]


def write_postal(path: Path, rows: list[tuple[object, ...]] = POSTAL_ROWS) -> Path:
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows), encoding="utf-8")
    return path


def write_places(path: Path, rows: list[tuple[object, ...]] = PLACE_ROWS) -> Path:
    lines = ["\t".join(map(str, row)) + "\t\t\tEurope/Berlin\t2024-01-01\n" for row in rows]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def postal_file(tmp_path: Path) -> Path:
    return write_postal(tmp_path / "DE.txt")


@pytest.fixture
def places_file(tmp_path: Path) -> Path:
    return write_places(tmp_path / "cities.txt")
