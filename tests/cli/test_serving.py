"""``pipeserve openapi`` and ``pipeserve serve``'s checks before it starts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipeserve.cli import main
from tests.conftest import FEATURES


def test_openapi_prints_the_document_with_the_models(runner: CliRunner, model_dir: Path) -> None:
    result = runner.invoke(main, ["openapi", "--model-dir", str(model_dir)])

    spec = json.loads(result.output)
    assert list(spec["components"]["schemas"]["IrisInstance"]["properties"]) == FEATURES


def test_serve_refuses_a_missing_trusted_types_file_before_starting(
    runner: CliRunner, model_dir: Path, tmp_path: Path
) -> None:
    # Settings through the environment only: CliRunner restores it (serve's options do not).
    result = runner.invoke(
        main,
        ["serve"],
        env={
            "PIPESERVE_MODEL_DIR": str(model_dir),
            "PIPESERVE_TRUSTED_TYPES_FILE": str(tmp_path / "trusted_types.txt"),
        },
    )

    assert result.exit_code == 1
    assert "trusted_types.txt does not exist" in result.output
