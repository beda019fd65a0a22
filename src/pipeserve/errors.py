"""The one error tree of pipeserve.

Every error raised on purpose inside the package is a :class:`PipeserveError`: it carries a stable
machine-readable ``code``, a message a user can act on and structured ``details``. None of them
knows about HTTP; ``pipeserve.api.problems`` holds the only table from error class to status.
"""

from __future__ import annotations

from typing import Any


class PipeserveError(Exception):
    """Base class: a stable ``code``, a human ``message`` and JSON-serialisable ``details``."""

    code: str = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message


class ConfigurationError(PipeserveError):
    """A setting or a params file is invalid (raised before serving or training starts)."""

    code = "configuration_error"


# --- request errors: the caller can fix them -------------------------------------------------


class RequestError(PipeserveError):
    """Base for errors caused by what the client sent."""

    code = "bad_request"


class MalformedRequestError(RequestError):
    """The body cannot be read at all: not JSON, or not UTF-8."""

    code = "malformed_request"


class InvalidInputError(RequestError):
    """The body is well-formed but does not match the model's input schema.

    ``details["errors"]`` lists each problem as ``{"field": "instances[0].sepal_length",
    "message": ...}`` so that a client can point at the offending value.
    """

    code = "invalid_input"


class PayloadTooLargeError(RequestError):
    """The body is larger than ``PIPESERVE_MAX_BODY_BYTES``."""

    code = "payload_too_large"


class UnsupportedMediaTypeError(RequestError):
    """The body is not declared as a type the route reads (JSON), or it is compressed."""

    code = "unsupported_media_type"


# --- access -----------------------------------------------------------------------------------


class AuthenticationError(RequestError):
    """No bearer token, or one that is not accepted, on a protected route."""

    code = "unauthorized"


class PermissionDeniedError(RequestError):
    """A valid token that may not use this route (an API token on an admin route)."""

    code = "forbidden"


class AddressNotFoundError(InvalidInputError):
    """An address matched no place and the geocoder's policy is to reject such rows.

    ``details["errors"]`` names the address field and the row (``{"field": "address", "row": 3,
    "message": ...}``) so that a client or a batch run can point at the offending row.
    """

    code = "address_not_found"


# --- model lookup -------------------------------------------------------------------------------


class ModelNotFoundError(PipeserveError):
    """No model of that name (or no such version of it) is configured."""

    code = "model_not_found"


class ModelNotReadyError(PipeserveError):
    """The model (version) is configured but could not be loaded, or is still loading."""

    code = "model_not_ready"

    @classmethod
    def of(cls, label: str, reason: str | None, **details: Any) -> ModelNotReadyError:
        """The error for model version ``label`` (``iris/2``), not ready for ``reason``: the
        words every route and protocol uses."""
        return cls(f"model {label} is not ready: {reason}", **details)


class GeocoderUnavailableError(PipeserveError):
    """The configured geocoding service did not answer usably within the timeout and retries.

    Not the client's fault (the same request may succeed later), so it is not a request error;
    raised only when the geocoder's failure policy is ``reject``.
    """

    code = "geocoder_unavailable"


# --- bundles --------------------------------------------------------------------------------------


class BundleError(PipeserveError):
    """A bundle cannot be used: missing, incomplete, tampered with or of an unknown format."""

    code = "bundle_invalid"


class BundleIntegrityError(BundleError):
    """A file's sha256 differs from the one recorded in ``bundle.json``."""

    code = "bundle_integrity"


class UntrustedTypeError(BundleError):
    """The persisted pipeline refers to a type outside the trusted-types list."""

    code = "bundle_untrusted_type"


# --- training -------------------------------------------------------------------------------------


class BundleCodeMissingError(BundleError):
    """The pipeline refers to a module the serving environment cannot import (the project's
    package is not installed in the image)."""

    code = "bundle_code_missing"


class TrainingError(PipeserveError):
    """Training data or parameters do not allow a model to be trained."""

    code = "training_error"
