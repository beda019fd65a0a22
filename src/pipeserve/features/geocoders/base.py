"""What every geocoding backend provides, and the text normalisation they share."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# Match quality, a feature of its own: how much of the address the coordinates stand for.
QUALITY_POSTCODE_AND_PLACE = 1.0
QUALITY_POSTCODE = 0.8
QUALITY_PLACE = 0.6
QUALITY_NONE = 0.0

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class GeocodeResult:
    """Coordinates (WGS84 degrees) and a match quality in ``(0, 1]``."""

    latitude: float
    longitude: float
    quality: float


@runtime_checkable
class GeocoderBackend(Protocol):
    """Turns one address into coordinates."""

    def geocode(self, address: str) -> GeocodeResult | None:
        """The best match for ``address``, or ``None`` when nothing matches.

        Raises :class:`~pipeserve.errors.GeocoderUnavailableError` when the backend cannot
        answer (service down, timeout), so that "not found" and "could not look" stay apart.
        """
        ...


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """Lower-case ASCII words separated by single spaces: ``"  KÖLN-Mülheim, Straße "`` →
    ``"koeln muelheim strasse"``.

    German umlauts become their two-letter spellings (ä → ae) and ß becomes ss (by case
    folding), so "Koeln" and "Köln" meet; other accents are dropped (é → e); punctuation and
    runs of whitespace become one space.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    return _NOT_ALNUM.sub(" ", _strip_marks(folded)).strip()


def normalize_plain(text: str) -> str:
    """Like :func:`normalize` but umlauts lose their dots (ö → o): the spelling of people who
    type "Koln" on a keyboard without umlauts. Used for extra index keys, never for queries."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _NOT_ALNUM.sub(" ", _strip_marks(folded)).strip()
