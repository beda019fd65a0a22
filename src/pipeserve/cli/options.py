"""What every ``pipeserve`` command shares: path types, the options several commands take,
the settings they hand on, and errors as one ``Error: ...`` line instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from pipeserve.errors import PipeserveError

F = TypeVar("F", bound=Callable[..., Any])

PATH = click.Path(path_type=Path)
EXISTING_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
EXISTING_DIR = click.Path(path_type=Path, exists=True, file_okay=False)


def friendly_errors(command: F) -> F:
    """Raise a ``pipeserve.errors`` type as click's one-line error (exit status 1)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PipeserveError as error:
            raise click.ClickException(error.message) from error

    return wrapper  # type: ignore[return-value]


def setup_logging() -> None:
    from pipeserve.logs import configure_logging

    configure_logging("INFO", "text")


SECTION = click.option(
    "--section",
    help="params.yaml group of the model (for example loans); default: the top level.",
)
PARAMS = click.option(
    "--params", "params_path", type=EXISTING_FILE, default="params.yaml", show_default=True
)
TRUSTED = click.option(
    "--trusted-types",
    "trusted_file",
    type=EXISTING_FILE,
    help="The project's reviewed types (trusted_types.txt), beyond pipeserve's built-in list.",
)


def trust(trusted_file: Path | None) -> Any:
    from pipeserve.bundle.trusted import Trust, read_trusted_types

    if trusted_file is None:
        return Trust(review="a trusted_types.txt passed with --trusted-types")
    return Trust.with_types(read_trusted_types(trusted_file), str(trusted_file))


def geocoder() -> Any:
    """The ``PIPESERVE_GEOCODER_*`` settings, for the bundles this command loads or fits."""
    from pipeserve.features.geocoders.runtime import GeocoderSettings
    from pipeserve.settings import Settings

    return GeocoderSettings.from_settings(Settings())


def refusing_untrusted(command: F) -> F:
    """Print each refused type on a line of its own, to review, before the error."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pipeserve.errors import UntrustedTypeError

        try:
            return command(*args, **kwargs)
        except UntrustedTypeError as error:
            for name in error.details.get("types", []):
                click.echo(f"review: {name}", err=True)
            raise

    return wrapper  # type: ignore[return-value]
