"""``pipeserve train`` and ``pipeserve evaluate``: the DVC `train` and `evaluate` stages."""

from __future__ import annotations

from pathlib import Path

import click

from pipeserve.cli.options import (
    EXISTING_DIR,
    EXISTING_FILE,
    PARAMS,
    PATH,
    SECTION,
    TRUSTED,
    friendly_errors,
    geocoder,
    refusing_untrusted,
    setup_logging,
    trust,
)


@click.command()
@PARAMS
@SECTION
@click.option("--train-csv", type=EXISTING_FILE, required=True, help="Prepared training table.")
@click.option("--output", type=PATH, required=True, help="Directory of the trained bundle.")
@TRUSTED
@friendly_errors
@refusing_untrusted
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

    setup_logging()
    put_on_path(params_path.parent)
    with geocoder_settings(geocoder()):  # fitting clones the Geocoders: no handing over
        manifest = run_training(
            load_params(params_path, section), train_csv, output, trust(trusted_file)
        )
    answers = f"{len(manifest.classes)} classes" if manifest.classes else manifest.task
    click.echo(f"trained {manifest.estimator} → {output} ({answers})")


@click.command()
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
@friendly_errors
@refusing_untrusted
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

    setup_logging()
    put_on_path(params_path.parent)
    train_params = load_params(params_path, section).train
    with geocoder_settings(geocoder()):
        metrics = run_evaluation(
            bundle_dir,
            test_csv,
            train_params.target,
            metrics_path,
            plot_path,
            positive_class=train_params.positive_class,
            trust=trust(trusted_file),
        )
    if "rmse" in metrics:
        summary = f"RMSE {metrics['rmse']:.4g}, MAE {metrics['mae']:.4g}, R2 {metrics['r2']:.4f}"
    else:
        summary = f"accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['f1_macro']:.4f}"
    if "roc_auc" in metrics:
        summary += f", ROC AUC {metrics['roc_auc']:.4f}"
    click.echo(summary)
