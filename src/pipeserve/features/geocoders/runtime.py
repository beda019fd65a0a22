"""What an HTTP geocoder is handed at run time, apart from its persisted parameters.

Free of scikit-learn, so a server on the compiled path builds these settings without importing
it. The values come from the caller's :class:`~pipeserve.settings.Settings` (``create_app``, the
CLI, a batch engine); nothing here reads the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeserve.settings import Settings


@dataclass(frozen=True)
class GeocoderSettings:
    """What an HTTP geocoder needs at run time (the ``PIPESERVE_GEOCODER_*`` settings).

    Plain values, so a Spark closure can carry them to the executors. Their defaults and
    limits are the settings' (:meth:`from_settings`), stated once there.
    """

    url: str | None
    user_agent: str
    timeout: float
    retries: int
    cache_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> GeocoderSettings:
        return cls(
            url=settings.geocoder_url,
            user_agent=settings.geocoder_user_agent,
            timeout=settings.geocoder_timeout,
            retries=settings.geocoder_retries,
            cache_size=settings.geocoder_cache_size,
        )


def settings_in_effect() -> GeocoderSettings | None:
    """The settings put in effect by :func:`geocoder_settings` around this call, if any."""
    return _IN_EFFECT.get()


# Settings in effect while a pipeline is fitted (training clones its Geocoders, so they cannot
# be handed over beforehand); serving hands them to each loaded Geocoder instead.
_IN_EFFECT: ContextVar[GeocoderSettings | None] = ContextVar("geocoder_settings", default=None)


@contextmanager
def geocoder_settings(settings: GeocoderSettings | None) -> Iterator[None]:
    """Put ``settings`` in effect for Geocoders that were handed none, within this block and
    context (for fitting a pipeline whose clones cannot be configured beforehand)."""
    token = _IN_EFFECT.set(settings)
    try:
        yield
    finally:
        _IN_EFFECT.reset(token)
