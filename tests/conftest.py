"""Shared fixtures: a real trained bundle (built once per session), settings, app, client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient
from sklearn.datasets import load_iris
from sklearn.model_selection import train_test_split

from pipeserve.api import create_app
from pipeserve.settings import Settings
from pipeserve.training.evaluate import evaluate
from pipeserve.training.params import Params, TrainParams
from pipeserve.training.publish import publish
from pipeserve.training.train import train

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
PRODUCTS = {"petal_area": ["petal_length", "petal_width"]}


def iris_frame() -> pd.DataFrame:
    """Iris with the column names the reference project uses."""
    iris = load_iris(as_frame=True)
    frame = iris.frame.set_axis([*FEATURES, "species"], axis=1)
    frame["species"] = frame["species"].map(dict(enumerate(iris.target_names)))
    return frame


@pytest.fixture(scope="session")
def iris_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Stratified train/test CSV files, as the prepare stage writes them."""
    directory = tmp_path_factory.mktemp("prepared")
    train_frame, test_frame = train_test_split(
        iris_frame(), test_size=0.3, random_state=42, stratify=iris_frame()["species"]
    )
    train_frame.to_csv(directory / "train.csv", index=False)
    test_frame.to_csv(directory / "test.csv", index=False)
    return directory / "train.csv", directory / "test.csv"


def build_bundle(
    workdir: Path, split: tuple[Path, Path], estimator: str = "svm", name: str = "iris"
) -> Path:
    """Run train → evaluate → publish, as the DVC stages do, and return the bundle directory."""
    params = Params(
        train=TrainParams(estimator=estimator, products=PRODUCTS),  # type: ignore[arg-type]
        bundle={"name": name, "version": "7"},  # type: ignore[arg-type]
    )
    train(params, split[0], workdir / "trained")
    evaluate(workdir / "trained", split[1], "species", workdir / "m.json", workdir / "c.csv")
    bundle_dir = workdir / "models" / name
    publish(workdir / "trained", workdir / "m.json", list(split), {"train": {}}, bundle_dir)
    return bundle_dir


@pytest.fixture(scope="session")
def session_bundle(tmp_path_factory: pytest.TempPathFactory, iris_split: tuple[Path, Path]) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle"), iris_split)


@pytest.fixture
def model_dir(tmp_path: Path, session_bundle: Path) -> Path:
    """A fresh model repository holding a copy of the iris bundle (tests may damage it)."""
    repository = tmp_path / "models"
    shutil.copytree(session_bundle, repository / "iris")
    return repository


@pytest.fixture
def bundle_dir(model_dir: Path) -> Path:
    return model_dir / "iris"


@pytest.fixture
def settings(model_dir: Path) -> Settings:
    return Settings(model_dir=model_dir, log_level="WARNING", max_instances=10, max_body_bytes=4096)


@pytest.fixture
def app(settings: Settings) -> APIFlask:
    return create_app(settings)


@pytest.fixture
def client(app: APIFlask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


# --- the credit example: synthetic data from its notebook, a bundle with a geocoder ----------

PROJECT = Path(__file__).parents[1]


@pytest.fixture(scope="session")
def credit_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The prepare_credit notebook run for real (fewer rows) in a scratch project."""
    import subprocess
    import sys

    import yaml

    root = tmp_path_factory.mktemp("credit-project")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text(encoding="utf-8"))
    params["credit"]["prepare"]["rows"] = 1500
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    subprocess.run(
        [sys.executable, str(PROJECT / "notebooks" / "prepare_credit_data.py")],
        cwd=root,
        check=True,
        capture_output=True,
    )
    paths = params["paths"]["credit"]
    return root / paths["train"], root / paths["test"]


@pytest.fixture(scope="session")
def credit_bundle(
    tmp_path_factory: pytest.TempPathFactory, credit_split: tuple[Path, Path]
) -> Path:
    """train → evaluate → publish of the credit pipeline, as its DVC stages run them."""
    from pipeserve.training.params import CreditParams

    workdir = tmp_path_factory.mktemp("credit-bundle")
    params = CreditParams.model_validate(yaml_section(PROJECT / "params.yaml", "credit"))
    train(params, credit_split[0], workdir / "trained")
    evaluate(
        workdir / "trained",
        credit_split[1],
        "outcome",
        workdir / "m.json",
        workdir / "c.csv",
        positive_class="default",
    )
    bundle_dir = workdir / "models" / "credit"
    publish(workdir / "trained", workdir / "m.json", list(credit_split), {}, bundle_dir)
    return bundle_dir


def yaml_section(path: Path, section: str) -> object:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))[section]


@pytest.fixture
def credit_model_dir(model_dir: Path, credit_bundle: Path) -> Path:
    """The iris repository plus the credit bundle, served side by side."""
    shutil.copytree(credit_bundle, model_dir / "credit")
    return model_dir


@pytest.fixture
def credit_client(credit_model_dir: Path) -> Iterator[FlaskClient]:
    settings = Settings(model_dir=credit_model_dir, log_level="WARNING", max_instances=10)
    with create_app(settings).test_client() as test_client:
        yield test_client
