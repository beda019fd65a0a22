"""``pipeserve init`` (a new project) and ``pipeserve prepare`` (the DVC `prepare` stage)."""

from __future__ import annotations

from pathlib import Path

import click

from pipeserve.cli.options import EXISTING_FILE, PATH, friendly_errors


@click.command()
@click.argument("directory", type=PATH)
@click.option("--package", help="The project's Python package [default: from DIRECTORY].")
@friendly_errors
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


@click.command()
@click.argument("notebook", type=EXISTING_FILE)
@friendly_errors
def prepare(notebook: Path) -> None:
    """Run a jupytext (percent-format) notebook as a script: the DVC `prepare` stage.

    The working directory stays the project root and the project's packages are importable."""
    import runpy

    from pipeserve.project.builder import put_on_path

    put_on_path(Path.cwd())
    runpy.run_path(str(notebook), run_name="__main__")
