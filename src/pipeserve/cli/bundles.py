"""``pipeserve bundle``: build (the DVC `bundle` stage), inspect and verify bundles."""

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
    trust,
)


@click.group()
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
@friendly_errors
@refusing_untrusted
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
    with geocoder_settings(geocoder()):  # checking the compiled form runs the pipeline
        manifest = publish(
            trained,
            metrics_path,
            list(inputs),
            raw_section(params_path, section),
            output,
            trust=trust(trusted_file),
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
@friendly_errors
def bundle_inspect(directory: Path) -> None:
    """Print a bundle's manifest (bundle.json) without loading the pipeline."""
    from pipeserve.bundle.io import manifest_bytes, read_manifest

    click.echo(manifest_bytes(read_manifest(directory)).decode(), nl=False)


@bundle.command("verify")
@click.argument("directory", type=EXISTING_DIR)
@TRUSTED
@friendly_errors
@refusing_untrusted
def bundle_verify(directory: Path, trusted_file: Path | None) -> None:
    """Check every file's sha256 and load the pipeline with the trusted-types list (pipeserve's
    own plus --trusted-types)."""
    from pipeserve.bundle.io import load_bundle
    from pipeserve.inference.predictor import Predictor

    loaded = load_bundle(directory, trust=trust(trusted_file))
    Predictor(loaded, geocoder=geocoder())
    for warning in loaded.version_warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"ok: {loaded.manifest.name} {loaded.manifest.version} verified")
