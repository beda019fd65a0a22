"""params.yaml mistakes are reported with the key, before any training; pipeserve reads only
its own keys and hands the rest of ``train`` to the project's builder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeserve.errors import ConfigurationError
from pipeserve.project.params import load_params, read_section

PROJECT_PARAMS = Path(__file__).parents[2] / "params.yaml"
VALID = "train:\n  pipeline: pkg.mod:build\n  target: y\n  depth: 3\nbundle:\n  name: m\n"


def test_the_project_params_file_names_each_example_builder() -> None:
    iris = load_params(PROJECT_PARAMS)
    credit = load_params(PROJECT_PARAMS, "credit")

    assert iris.train.pipeline == "iris_example.pipeline:build"
    assert iris.train.target == "species"
    assert iris.bundle.name == "iris"
    assert iris.train.builder_params["products"] == {"petal_area": ["petal_length", "petal_width"]}
    assert credit.train.pipeline == "credit_example.pipeline:build"
    assert credit.train.positive_class == "default"
    assert credit.bundle.name == "credit"


def test_the_builder_gets_every_key_but_pipeserves_own(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(VALID + "prepare:\n  seed: 1\n")

    params = load_params(path)

    assert params.train.builder_params == {"depth": 3}
    assert read_section(path, "prepare") == {"seed": 1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train:\n  target: y\nbundle:\n  name: m\n", "train.pipeline: Field required"),
        (VALID.replace("pkg.mod:build", "pkg.mod"), "train.pipeline"),
        (VALID.replace("name: m", "name: Not A Name"), "bundle.name"),
        ("train: [unclosed\n", "not valid YAML"),
        ("- a list\n", "must hold a mapping"),
    ],
)
def test_a_wrong_value_names_its_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)

    with pytest.raises(ConfigurationError, match=message):
        load_params(path)


def test_a_section_names_its_group_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("credit:\n  train:\n    target: y\n  bundle:\n    name: c\n")

    with pytest.raises(ConfigurationError, match=r"credit\.train\.pipeline"):
        load_params(path, "credit")
    with pytest.raises(ConfigurationError, match="no section 'loans'"):
        load_params(path, "loans")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_params(tmp_path / "params.yaml")
