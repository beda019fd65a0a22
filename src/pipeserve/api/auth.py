"""Bearer-token authentication for the model and admin routes.

Tokens come from settings (a comma-separated variable, typically from a Kubernetes Secret) and
from token files (a mounted Secret, one token per line), which are re-read when they change so
that a rotated Secret takes effect without a restart. A presented token is compared with every
accepted one in constant time (``hmac.compare_digest`` over sha256 digests, no early exit), so
response timing tells nothing about how much of a token was right.

Which routes need which token is each surface's access class (:mod:`pipeserve.api.surfaces`):
health, readiness, metrics and the API documentation stay open (probes and scrapers carry no
token, and they reveal no customer data).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, request
from pydantic import SecretStr

from pipeserve.api.context import RequestCycle
from pipeserve.api.surfaces import Access, surface_index
from pipeserve.errors import AuthenticationError, ConfigurationError, PermissionDeniedError
from pipeserve.settings import Settings

logger = logging.getLogger(__name__)

_RECHECK_SECONDS = 5.0
FEATURE = "auth (bearer token)"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _split(text: str) -> list[str]:
    return [token.strip() for token in text.replace("\n", ",").split(",") if token.strip()]


class TokenSet:
    """Accepted tokens from a variable and an optional file (re-read when its mtime changes)."""

    def __init__(self, inline: SecretStr, path: Path | None) -> None:
        self._inline = [_digest(token) for token in _split(inline.get_secret_value())]
        self._path = path
        self._from_file: list[bytes] = []
        self._file_stamp: float | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._reload_file(force=True)

    def _reload_file(self, force: bool = False) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked_at < _RECHECK_SECONDS:
            return
        with self._lock:
            self._checked_at = now
            try:
                stamp = self._path.stat().st_mtime
                if stamp != self._file_stamp:
                    text = self._path.read_text(encoding="utf-8")
                    self._from_file = [_digest(token) for token in _split(text)]
                    self._file_stamp = stamp
            except OSError as error:
                if force:
                    raise ConfigurationError(
                        f"token file {self._path} cannot be read: {error.strerror}",
                        path=str(self._path),
                    ) from error
                # A Secret being rotated: keep the tokens read last.
                logger.warning("token file %s cannot be read; keeping the last tokens", self._path)

    @property
    def configured(self) -> bool:
        return bool(self._inline or self._path is not None)

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is one of ours, in time independent of which one or how close."""
        self._reload_file()
        presented = _digest(token)
        accepted = False
        for candidate in (*self._inline, *self._from_file):
            accepted |= hmac.compare_digest(presented, candidate)
        return accepted


@dataclass(frozen=True)
class Guard:
    """Which tokens open which routes."""

    api: TokenSet
    admin: TokenSet

    def check(self, access: Access | None, authorization: str) -> None:
        """Raise :class:`AuthenticationError` or :class:`PermissionDeniedError` unless a
        request with this ``Authorization`` header may use a route of ``access`` (``None``: it
        matched no route)."""
        if access is Access.ADMIN:
            token = _bearer_token(authorization)
            if self.admin.accepts(token):
                return
            if self.api.configured and self.api.accepts(token):
                raise PermissionDeniedError(
                    "this token may use the model routes, not the admin ones"
                )
            raise AuthenticationError("a valid admin bearer token is required")
        if access is Access.API and self.api.configured:
            token = _bearer_token(authorization)
            if not (self.api.accepts(token) or self.admin.accepts(token)):
                raise AuthenticationError("the bearer token is not accepted")


def _bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "this route needs 'Authorization: Bearer <token>'", header="Authorization"
        )
    return token.strip()


def install_auth(app: Flask, cycle: RequestCycle, settings: Settings) -> Guard:
    """Check a token before every protected request of ``app`` (a step of its ``cycle``, after
    the request id and the metrics have started, so that a refusal is logged and counted).

    Raises :class:`ConfigurationError` when the admin routes are enabled without admin tokens
    (they would be open to anyone who reaches the port) or a token file cannot be read.
    """
    guard = Guard(
        api=TokenSet(settings.api_tokens, settings.api_tokens_file),
        admin=TokenSet(settings.admin_tokens, settings.admin_tokens_file),
    )
    if settings.admin_enabled and not guard.admin.configured:
        raise ConfigurationError(
            "PIPESERVE_ADMIN_ENABLED needs PIPESERVE_ADMIN_TOKENS or PIPESERVE_ADMIN_TOKENS_FILE: "
            "the admin routes are never open"
        )

    access = surface_index(app).access  # filled once every blueprint is registered

    def authenticate() -> None:
        endpoint = request.endpoint
        guard.check(
            access.get(endpoint) if endpoint is not None else None,
            request.headers.get("Authorization", ""),
        )

    cycle.on_start(FEATURE, authenticate)
    return guard
