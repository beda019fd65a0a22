"""params.yaml mistakes are reported with the key, before any training."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeserve.errors import ConfigurationError
from pipeserve.training.params import load_params

PROJECT_PARAMS = Path(__file__).parents[2] / "params.yaml"


def test_the_project_params_file_parses_with_the_documented_default() -> None:
    params = load_params(PROJECT_PARAMS)

    assert params.train.estimator == "svm"
    assert params.bundle.name == "iris"
    assert params.train.products == {"petal_area": ["petal_length", "petal_width"]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  estimator: forest\n", "train.estimator"),
        ("train:\n  svm:\n    C: -1\n", "train.svm.C"),
        ("train:\n  mlp:\n    hidden_layers: [3]\n", "train.mlp.hidden_layers"),
        ("prepare:\n  test_size: 1.5\n", "prepare.test_size"),
        ("train: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_wrong_value_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)

    with pytest.raises(ConfigurationError, match=message):
        load_params(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_params(tmp_path / "params.yaml")
