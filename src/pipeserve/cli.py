"""The ``pipeserve`` command: init a project; train, evaluate and bundle (the DVC stages); serve,
predict.

Errors raised as ``pipeserve.errors`` types become one ``Error: ...`` line and exit status 1,
never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from pipeserve import __version__
from pipeserve.batch import CHUNK_SIZE
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
@click.argument("directory", type=PATH)
@click.option("--package", help="The project's Python package [default: from DIRECTORY].")
@_friendly_errors
def init(directory: Path, package: str | None) -> None:
    """Write a new project into DIRECTORY: a pipeline with its own transformer, a notebook that
    prepares data, params.yaml, dvc.yaml, Makefile, Dockerfile, deploy/ and a test."""
    from pipeserve.project.init import init_project

    report = init_project(directory, package=package)
    click.echo(f"wrote {len(report.files)} files to {directory} (package {report.package})")
    if report.source is not None:
        click.echo(
            f"pipeserve is installed from its source checkout {report.source} (it is not on a "
            "package index yet); the Makefile says how to pin a released version instead"
        )
    else:
        click.echo(f"pipeserve is installed as {report.pipeserve_requirement}")
    click.echo(f"next: cd {directory} && make serve")


@main.command()
@click.argument("notebook", type=EXISTING_FILE)
@_friendly_errors
def prepare(notebook: Path) -> None:
    """Run a jupytext (percent-format) notebook as a script: the DVC `prepare` stage.

    The working directory stays the project root and the project's packages are importable."""
    import runpy

    from pipeserve.project.builder import put_on_path

    put_on_path(Path.cwd())
    runpy.run_path(str(notebook), run_name="__main__")


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


def _trust(trusted_file: Path | None) -> Any:
    from pipeserve.bundle.trusted import Trust, read_trusted_types

    if trusted_file is None:
        return Trust(review="a trusted_types.txt passed with --trusted-types")
    return Trust.with_types(read_trusted_types(trusted_file), str(trusted_file))


def _geocoder() -> Any:
    """The ``PIPESERVE_GEOCODER_*`` settings, for the bundles this command loads or fits."""
    from pipeserve.features.geocoders.runtime import GeocoderSettings
    from pipeserve.settings import Settings

    return GeocoderSettings.from_settings(Settings())


def _refusing_untrusted(command: F) -> F:
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


@main.command()
@PARAMS
@SECTION
@click.option("--train-csv", type=EXISTING_FILE, required=True, help="Prepared training table.")
@click.option("--output", type=PATH, required=True, help="Directory of the trained bundle.")
@TRUSTED
@_friendly_errors
@_refusing_untrusted
def train(
    params_path: Path,
    section: str | None,
    train_csv: Path,
    output: Path,
    trusted_file: Path | None,
) -> None:
    """Fit the pipeline that train.pipeline names (the DVC `train` stage)."""
    from pipeserve.features.geocoders.runtime import geocoder_settings
    from pipeserve.project.builder import put_on_path
    from pipeserve.project.params import load_params
    from pipeserve.training.train import train as run_training

    _setup_logging()
    put_on_path(params_path.parent)
    with geocoder_settings(_geocoder()):  # fitting clones the Geocoders: no handing over
        manifest = run_training(
            load_params(params_path, section), train_csv, output, _trust(trusted_file)
        )
    answers = f"{len(manifest.classes)} classes" if manifest.classes else manifest.task
    click.echo(f"trained {manifest.estimator} → {output} ({answers})")


@main.command()
@PARAMS
@SECTION
@click.option("--bundle", "bundle_dir", type=EXISTING_DIR, required=True)
@click.option("--test-csv", type=EXISTING_FILE, required=True)
@click.option("--metrics", "metrics_path", type=PATH, required=True, help="Metrics JSON to write.")
@click.option(
    "--plot",
    "--confusion",
    "plot_path",
    type=PATH,
    required=True,
    help="actual,predicted table to write (a confusion matrix or a scatter in dvc plots).",
)
@TRUSTED
@_friendly_errors
@_refusing_untrusted
def evaluate(
    *,
    params_path: Path,
    section: str | None,
    bundle_dir: Path,
    test_csv: Path,
    metrics_path: Path,
    plot_path: Path,
    trusted_file: Path | None,
) -> None:
    """Score a trained bundle on held-out data (the DVC `evaluate` stage)."""
    from pipeserve.features.geocoders.runtime import geocoder_settings
    from pipeserve.project.builder import put_on_path
    from pipeserve.project.params import load_params
    from pipeserve.training.evaluate import evaluate as run_evaluation

    _setup_logging()
    put_on_path(params_path.parent)
    train_params = load_params(params_path, section).train
    with geocoder_settings(_geocoder()):
        metrics = run_evaluation(
            bundle_dir,
            test_csv,
            train_params.target,
            metrics_path,
            plot_path,
            positive_class=train_params.positive_class,
            trust=_trust(trusted_file),
        )
    if "rmse" in metrics:
        summary = f"RMSE {metrics['rmse']:.4g}, MAE {metrics['mae']:.4g}, R2 {metrics['r2']:.4f}"
    else:
        summary = f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['f1_macro']:.4f}"
    if "roc_auc" in metrics:
        summary += f", ROC AUC {metrics['roc_auc']:.4f}"
    click.echo(summary)


@main.group()
def bundle() -> None:
    """Build, inspect and verify bundles."""


@bundle.command("build")
@PARAMS
@SECTION
@click.option("--trained", type=EXISTING_DIR, required=True, help="Output of `pipeserve train`.")
@click.option("--metrics", "metrics_path", type=EXISTING_FILE, required=True)
@click.option("--input", "inputs", type=EXISTING_FILE, multiple=True, help="Data it was made from.")
@click.option(
    "--confusion",
    "confusion_path",
    type=EXISTING_FILE,
    help="The evaluate stage's actual,predicted table: the model card's confusion matrix (a "
    "classifier) or residual plot (a regressor).",
)
@click.option("--output", type=PATH, required=True, help="Bundle directory to serve.")
@TRUSTED
@_friendly_errors
@_refusing_untrusted
def bundle_build(
    *,
    params_path: Path,
    section: str | None,
    trained: Path,
    metrics_path: Path,
    inputs: tuple[Path, ...],
    confusion_path: Path | None,
    output: Path,
    trusted_file: Path | None,
) -> None:
    """Add metrics and lineage to a trained bundle and publish it (the DVC `bundle` stage).

    Refuses a pipeline holding a type that neither pipeserve nor --trusted-types trusts, and
    prints each such type to review."""
    from pipeserve.features.geocoders.runtime import geocoder_settings
    from pipeserve.project.builder import put_on_path
    from pipeserve.project.params import load_params, raw_section
    from pipeserve.training.publish import publish

    put_on_path(params_path.parent)
    load_params(params_path, section)  # checked, so a bad file fails with a message naming the key
    with geocoder_settings(_geocoder()):  # checking the compiled form runs the pipeline
        manifest = publish(
            trained,
            metrics_path,
            list(inputs),
            raw_section(params_path, section),
            output,
            trust=_trust(trusted_file),
            confusion_path=confusion_path,
        )
    size = sum(f.size for f in manifest.files.values())
    metrics = manifest.metrics or {}
    score = (
        f"RMSE {metrics.get('rmse')}"
        if manifest.task == "regression"
        else f"accuracy {metrics.get('accuracy')}"
    )
    click.echo(
        f"bundle {manifest.name} {manifest.version} → {output} ({size / 1024:.0f} KiB, {score})"
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
@TRUSTED
@_friendly_errors
@_refusing_untrusted
def bundle_verify(directory: Path, trusted_file: Path | None) -> None:
    """Check every file's sha256 and load the pipeline with the trusted-types list (pipeserve's
    own plus --trusted-types)."""
    from pipeserve.bundle.io import load_bundle
    from pipeserve.inference.predictor import Predictor

    loaded = load_bundle(directory, trust=_trust(trusted_file))
    Predictor(loaded, geocoder=_geocoder())
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


@main.command()
@click.option("--bundle", "bundle_dir", type=EXISTING_DIR, required=True)
@click.argument("input_path", type=EXISTING_FILE)
@click.option("--output", type=PATH, required=True, help="Predictions (.csv, .jsonl or .parquet).")
@click.option(
    "--rejects", type=PATH, help="Invalid rows with reasons [default: OUTPUT.rejects.jsonl]"
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=CHUNK_SIZE,
    show_default=True,
    help="Rows scored at a time (Spark: rows per Arrow batch sent to a Python worker).",
)
@click.option("--probabilities/--no-probabilities", default=True, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: this process, chunk by chunk; spark: Apache Spark (pipeserve[spark]), "
    "Parquet or CSV in, Parquet out.",
)
@click.option(
    "--master",
    default="local[*]",
    show_default=True,
    help="Spark master URL (--engine spark), e.g. k8s://https://HOST:443.",
)
@_friendly_errors
def predict(
    *,
    bundle_dir: Path,
    input_path: Path,
    output: Path,
    rejects: Path | None,
    chunk_size: int,
    probabilities: bool,
    engine: str,
    master: str,
) -> None:
    """Score a CSV, JSON-lines or Parquet file with a bundle, with a progress bar on stderr."""
    rejects = rejects or output.with_name(output.name + ".rejects.jsonl")
    if engine == "spark":
        report = _predict_on_spark(
            bundle_dir,
            input_path,
            output,
            rejects,
            chunk_size=chunk_size,
            probabilities=probabilities,
            master=master,
        )
    else:
        from tqdm import tqdm

        from pipeserve.batch.local import score_file
        from pipeserve.bundle.io import load_bundle
        from pipeserve.inference.predictor import Predictor

        predictor = Predictor(load_bundle(bundle_dir), geocoder=_geocoder())
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


def _predict_on_spark(
    bundle_dir: Path,
    input_path: Path,
    output: Path,
    rejects: Path,
    *,
    chunk_size: int,
    probabilities: bool,
    master: str,
) -> Any:
    """``predict --engine spark``: a Spark session for the run; a worker's pipeserve error
    (a bundle that fails to verify on the executors) is reported as such."""
    from pipeserve import spark
    from pipeserve.inference.registry import LoadOptions

    spark.require_pyspark()
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException
    from pyspark.sql import SparkSession

    if master.startswith("local"):
        # Local workers run this interpreter, which has pipeserve (python3 on PATH may not).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # A session that already runs (a notebook, a test) is used as it is and left running.
    existing = SparkSession.getActiveSession()
    session = existing or (
        SparkSession.builder.master(master).appName("pipeserve predict").getOrCreate()
    )
    try:
        return spark.score_file(
            session,
            bundle_dir,
            input_path,
            output,
            rejects,
            probabilities=probabilities,
            batch_rows=chunk_size,
            options=LoadOptions(geocoder=_geocoder()),
        )
    except (PySparkException, Py4JJavaError) as error:
        recovered = spark.engine_error(error)
        if recovered is None:
            raise
        raise recovered from error
    finally:
        if existing is None:
            session.stop()


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
