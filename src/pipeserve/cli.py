"""The ``pipeserve`` command: train, evaluate and bundle (the DVC stages), serve, predict.

Errors raised as ``pipeserve.errors`` types become one ``Error: ...`` line and exit status 1,
never a traceback.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from pipeserve import __version__
from pipeserve.errors import PipeserveError

F = TypeVar("F", bound=Callable[..., Any])

PATH = click.Path(path_type=Path)
EXISTING_FILE = click.Path(path_type=Path, exists=True, dir_okay=False)
EXISTING_DIR = click.Path(path_type=Path, exists=True, file_okay=False)


def _friendly_errors(command: F) -> F:
    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PipeserveError as error:
            raise click.ClickException(error.message) from error

    return wrapper  # type: ignore[return-value]


def _setup_logging() -> None:
    from pipeserve.logs import configure_logging

    configure_logging("INFO", "text")


@click.group()
@click.version_option(__version__, prog_name="pipeserve")
def main() -> None:
    """Train, bundle and serve scikit-learn pipelines."""


@main.command()
@click.option(
    "--params", "params_path", type=EXISTING_FILE, default="params.yaml", show_default=True
)
@click.option(
    "--section",
    help="params.yaml group of the model (credit); default: the top level (iris).",
)
@click.option("--train-csv", type=EXISTING_FILE, required=True, help="Prepared training table.")
@click.option("--output", type=PATH, required=True, help="Directory of the trained bundle.")
@_friendly_errors
def train(params_path: Path, section: str | None, train_csv: Path, output: Path) -> None:
    """Fit the pipeline that params.yaml describes (the DVC `train` stage)."""
    from pipeserve.training.params import load_params
    from pipeserve.training.train import train as run_training

    _setup_logging()
    manifest = run_training(load_params(params_path, section), train_csv, output)
    click.echo(f"trained {manifest.estimator} → {output} ({len(manifest.classes)} classes)")


@main.command()
@click.option(
    "--params", "params_path", type=EXISTING_FILE, default="params.yaml", show_default=True
)
@click.option(
    "--section",
    help="params.yaml group of the model (credit); default: the top level (iris).",
)
@click.option("--bundle", "bundle_dir", type=EXISTING_DIR, required=True)
@click.option("--test-csv", type=EXISTING_FILE, required=True)
@click.option("--metrics", "metrics_path", type=PATH, required=True, help="Metrics JSON to write.")
@click.option("--confusion", "confusion_path", type=PATH, required=True, help="Plot data to write.")
@_friendly_errors
def evaluate(
    *,
    params_path: Path,
    section: str | None,
    bundle_dir: Path,
    test_csv: Path,
    metrics_path: Path,
    confusion_path: Path,
) -> None:
    """Score a trained bundle on held-out data (the DVC `evaluate` stage)."""
    from pipeserve.training.evaluate import evaluate as run_evaluation
    from pipeserve.training.params import load_params

    _setup_logging()
    train_params = load_params(params_path, section).train
    positive = getattr(train_params, "positive_class", None)
    metrics = run_evaluation(
        bundle_dir,
        test_csv,
        train_params.target,
        metrics_path,
        confusion_path,
        positive_class=positive,
    )
    summary = f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['f1_macro']:.4f}"
    if "roc_auc" in metrics:
        summary += f", ROC AUC {metrics['roc_auc']:.4f}"
    click.echo(summary)


@main.group()
def bundle() -> None:
    """Build, inspect and verify bundles."""


@bundle.command("build")
@click.option(
    "--params", "params_path", type=EXISTING_FILE, default="params.yaml", show_default=True
)
@click.option(
    "--section",
    help="params.yaml group of the model (credit); default: the top level (iris).",
)
@click.option("--trained", type=EXISTING_DIR, required=True, help="Output of `pipeserve train`.")
@click.option("--metrics", "metrics_path", type=EXISTING_FILE, required=True)
@click.option("--input", "inputs", type=EXISTING_FILE, multiple=True, help="Data it was made from.")
@click.option(
    "--confusion",
    "confusion_path",
    type=EXISTING_FILE,
    help="The evaluate stage's actual,predicted table: drawn as the model card's confusion matrix.",
)
@click.option("--output", type=PATH, required=True, help="Bundle directory to serve.")
@_friendly_errors
def bundle_build(
    *,
    params_path: Path,
    section: str | None,
    trained: Path,
    metrics_path: Path,
    inputs: tuple[Path, ...],
    confusion_path: Path | None,
    output: Path,
) -> None:
    """Add metrics and lineage to a trained bundle and publish it (the DVC `bundle` stage)."""
    from pipeserve.training.params import load_params, raw_section
    from pipeserve.training.publish import publish

    load_params(params_path, section)  # checked, so a bad file fails with a message naming the key
    manifest = publish(
        trained,
        metrics_path,
        list(inputs),
        raw_section(params_path, section),
        output,
        confusion_path=confusion_path,
    )
    size = sum(f.size for f in manifest.files.values())
    accuracy = (manifest.metrics or {}).get("accuracy")
    click.echo(
        f"bundle {manifest.name} {manifest.version} → {output} "
        f"({size / 1024:.0f} KiB, accuracy {accuracy})"
    )


@bundle.command("inspect")
@click.argument("directory", type=EXISTING_DIR)
@_friendly_errors
def bundle_inspect(directory: Path) -> None:
    """Print a bundle's manifest (bundle.json) without loading the pipeline."""
    from pipeserve.bundle.io import manifest_bytes, read_manifest

    click.echo(manifest_bytes(read_manifest(directory)).decode(), nl=False)


@bundle.command("verify")
@click.argument("directory", type=EXISTING_DIR)
@_friendly_errors
def bundle_verify(directory: Path) -> None:
    """Check every file's sha256 and load the pipeline with the trusted-types list."""
    from pipeserve.bundle.io import load_bundle
    from pipeserve.inference.predictor import Predictor

    loaded = load_bundle(directory)
    Predictor(loaded)
    for warning in loaded.version_warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"ok: {loaded.manifest.name} {loaded.manifest.version} verified")


@main.command()
@click.option("--host", help="Overrides PIPESERVE_HOST.")
@click.option("--port", type=int, help="Overrides PIPESERVE_PORT.")
@click.option("--workers", type=int, help="Overrides PIPESERVE_WORKERS.")
@click.option("--model-dir", type=PATH, help="Overrides PIPESERVE_MODEL_DIR.")
@_friendly_errors
def serve(host: str | None, port: int | None, workers: int | None, model_dir: Path | None) -> None:
    """Serve the models with Gunicorn (settings from PIPESERVE_* variables)."""
    from pipeserve.inference.store import discover_repository
    from pipeserve.settings import ENV_PREFIX, Settings

    overrides = {"HOST": host, "PORT": port, "WORKERS": workers, "MODEL_DIR": model_dir}
    for key, value in overrides.items():
        if value is not None:
            os.environ[ENV_PREFIX + key] = str(value)
    settings = Settings()
    if not settings.model_paths:
        discover_repository(settings.model_dir)  # fail here, clearly, not in every worker
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    argv = [gunicorn, "-c", "python:pipeserve.api.gunicorn_conf", "pipeserve.api:create_app()"]
    served = ", ".join(map(str, settings.model_paths)) or settings.model_dir
    click.echo(f"serving {served} on http://{settings.host}:{settings.port}", err=True)
    # Fixed argv, no shell: this process becomes Gunicorn (signals reach it directly).
    os.execv(gunicorn, argv)  # noqa: S606  # nosec B606


@main.command()
@click.option("--bundle", "bundle_dir", type=EXISTING_DIR, required=True)
@click.argument("input_path", type=EXISTING_FILE)
@click.option("--output", type=PATH, required=True, help="Predictions (.csv, .jsonl or .parquet).")
@click.option(
    "--rejects", type=PATH, help="Invalid rows with reasons [default: OUTPUT.rejects.jsonl]"
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--probabilities/--no-probabilities", default=True, show_default=True)
@_friendly_errors
def predict(
    *,
    bundle_dir: Path,
    input_path: Path,
    output: Path,
    rejects: Path | None,
    chunk_size: int,
    probabilities: bool,
) -> None:
    """Score a CSV, JSON-lines or Parquet file with a bundle, with a progress bar on stderr."""
    from tqdm import tqdm

    from pipeserve.bundle.io import load_bundle
    from pipeserve.inference.batch import score_file
    from pipeserve.inference.predictor import Predictor

    predictor = Predictor(load_bundle(bundle_dir))
    rejects = rejects or output.with_name(output.name + ".rejects.jsonl")
    with tqdm(unit=" rows", file=sys.stderr, desc="scoring") as bar:
        report = score_file(
            predictor,
            input_path,
            output,
            rejects,
            chunk_size=chunk_size,
            probabilities=probabilities,
            progress=bar.update,
        )
    click.echo(
        f"{report.scored} of {report.rows} rows scored → {output}; "
        f"{report.rejected} rejected → {rejects}",
        err=True,
    )


@main.command()
@click.option("--model-dir", type=EXISTING_DIR, help="Overrides PIPESERVE_MODEL_DIR.")
@_friendly_errors
def openapi(model_dir: Path | None) -> None:
    """Print the OpenAPI document of the server for the given models."""
    from pipeserve.api import create_app
    from pipeserve.settings import Settings

    settings = Settings(model_dir=model_dir) if model_dir else Settings()
    app = create_app(settings.model_copy(update={"log_level": "ERROR"}))
    click.echo(orjson.dumps(app.spec, option=orjson.OPT_INDENT_2).decode())
