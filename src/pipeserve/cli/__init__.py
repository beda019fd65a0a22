"""The ``pipeserve`` command: init a project; train, evaluate and bundle (the DVC stages); serve,
predict. One module per command or group; each command imports what it needs when it runs, so
``pipeserve --help`` stays instant.

Errors raised as ``pipeserve.errors`` types become one ``Error: ...`` line and exit status 1,
never a traceback (:func:`pipeserve.cli.options.friendly_errors`).
"""

from __future__ import annotations

import click

from pipeserve import __version__
from pipeserve.cli.bundles import bundle
from pipeserve.cli.predict import predict
from pipeserve.cli.project import init, prepare
from pipeserve.cli.serving import openapi, serve
from pipeserve.cli.training import evaluate, train


@click.group(commands=[init, prepare, train, evaluate, bundle, serve, predict, openapi])
@click.version_option(__version__, prog_name="pipeserve")
def main() -> None:
    """Train, bundle and serve scikit-learn pipelines."""


__all__ = ["main"]
