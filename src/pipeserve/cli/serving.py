"""``pipeserve serve`` (the server) and ``pipeserve openapi`` (its OpenAPI document)."""

from __future__ import annotations

import os
from pathlib import Path

import click
import orjson

from pipeserve.cli.options import EXISTING_DIR, PATH, friendly_errors


@click.command()
@click.option("--host", help="Overrides PIPESERVE_HOST.")
@click.option("--port", type=int, help="Overrides PIPESERVE_PORT.")
@click.option("--workers", type=int, help="Overrides PIPESERVE_WORKERS.")
@click.option("--model-dir", type=PATH, help="Overrides PIPESERVE_MODEL_DIR.")
@friendly_errors
def serve(host: str | None, port: int | None, workers: int | None, model_dir: Path | None) -> None:
    """Serve the models with granian (settings from PIPESERVE_* variables)."""
    from pipeserve.api.server import serve as run_server
    from pipeserve.inference.store import discover_repository
    from pipeserve.settings import ENV_PREFIX, Settings

    overrides = {"HOST": host, "PORT": port, "WORKERS": workers, "MODEL_DIR": model_dir}
    for key, value in overrides.items():
        if value is not None:
            # The workers read their settings from the environment they inherit.
            os.environ[ENV_PREFIX + key] = str(value)
    settings = Settings()
    if not settings.model_paths:
        discover_repository(settings.model_dir)  # fail here, clearly, not in every worker
    from pipeserve.bundle.trusted import configured_trust

    configured_trust(settings.trusted_types, settings.trusted_types_file)  # same: a bad file
    served = ", ".join(map(str, settings.model_paths)) or settings.model_dir
    click.echo(f"serving {served} on http://{settings.host}:{settings.port}", err=True)
    # This process becomes the server's master: signals (SIGTERM, SIGHUP) reach it directly.
    run_server(settings)


@click.command()
@click.option("--model-dir", type=EXISTING_DIR, help="Overrides PIPESERVE_MODEL_DIR.")
@friendly_errors
def openapi(model_dir: Path | None) -> None:
    """Print the OpenAPI document of the server for the given models."""
    from pipeserve.api import create_app
    from pipeserve.settings import Settings

    settings = Settings(model_dir=model_dir) if model_dir else Settings()
    app = create_app(settings.model_copy(update={"log_level": "ERROR"}))
    click.echo(orjson.dumps(app.spec, option=orjson.OPT_INDENT_2).decode())
