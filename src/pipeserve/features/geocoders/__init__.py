"""Geocoding backends for :class:`pipeserve.features.geocoding.Geocoder`.

Rule: a backend answers one address at a time with a :class:`~.base.GeocodeResult` or ``None``
(nothing found) and raises :class:`~pipeserve.errors.GeocoderUnavailableError` when it cannot
answer at all. The offline gazetteer is data (persisted in the bundle); HTTP backends are opened
lazily at prediction time from the settings and never persisted.
"""
