"""Shared fixtures: a real trained bundle (built once per session), settings, app, client."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from apiflask import APIFlask
from flask.testing import FlaskClient
from sklearn.compose import make_column_transformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from pipeserve.api import create_app
from pipeserve.bundle.io import manifest_bytes, write_bundle
from pipeserve.bundle.manifest import MANIFEST_FILE, FeatureSpec, Manifest
from pipeserve.bundle.versions import library_versions
from pipeserve.project.params import ProjectParams, load_params
from pipeserve.settings import Settings
from pipeserve.training.evaluate import evaluate
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
    params = ProjectParams.model_validate(
        {
            "train": {
                "pipeline": "iris_example.pipeline:build",
                "target": "species",
                "estimator": estimator,
                "products": PRODUCTS,
            },
            "bundle": {"name": name, "version": "7"},
        }
    )
    train(params, split[0], workdir / "trained")
    evaluate(workdir / "trained", split[1], "species", workdir / "m.json", workdir / "c.csv")
    bundle_dir = workdir / "models" / name
    publish(
        workdir / "trained",
        workdir / "m.json",
        list(split),
        {"train": {}},
        bundle_dir,
        confusion_path=workdir / "c.csv",
    )
    return bundle_dir


def copy_bundle(source: Path, target: Path, version: str | None = None) -> Path:
    """Copy a bundle, optionally re-labelled with another version (bundle.json is not pinned
    by its own digests, so the copy still verifies)."""
    shutil.copytree(source, target)
    if version is not None:
        manifest_path = target / MANIFEST_FILE
        manifest = Manifest.model_validate_json(manifest_path.read_bytes())
        manifest_path.write_bytes(manifest_bytes(manifest.model_copy(update={"version": version})))
    return target


@pytest.fixture(scope="session")
def session_bundle(tmp_path_factory: pytest.TempPathFactory, iris_split: tuple[Path, Path]) -> Path:
    return build_bundle(tmp_path_factory.mktemp("bundle"), iris_split)


def build_colour_bundle(directory: Path) -> Path:
    """A small bundle with a string feature (``colour``) next to a number (``size``): the
    protocols must carry strings (V2 BYTES tensors) as well as numbers."""
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {"colour": rng.choice(["red", "green", "blue"], 90), "size": rng.uniform(0, 10, 90)}
    )
    labels = np.where((features["colour"] == "red") | (features["size"] > 7), "yes", "no")
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["colour"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(features, labels)
    manifest = Manifest(
        name="colours",
        version="1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        estimator="logistic_regression",
        classes=[str(c) for c in pipeline.classes_],
        features=[
            FeatureSpec(name="colour", dtype="string"),
            FeatureSpec(name="size", dtype="float64", minimum=0.0, maximum=10.0),
        ],
        example={"colour": "red", "size": 2.5},
        library_versions=library_versions(),
    )
    write_bundle(directory, pipeline, manifest)
    return directory


@pytest.fixture(scope="session")
def colour_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_colour_bundle(tmp_path_factory.mktemp("colours") / "colours")


@pytest.fixture
def model_dir(tmp_path: Path, session_bundle: Path) -> Path:
    """A fresh model repository holding a copy of the iris bundle (tests may damage it)."""
    repository = tmp_path / "models"
    shutil.copytree(session_bundle, repository / "iris")
    return repository


@pytest.fixture
def multi_model_dir(model_dir: Path, colour_bundle: Path) -> Path:
    """The iris repository plus the string-feature ``colours`` model."""
    shutil.copytree(colour_bundle, model_dir / "colours")
    return model_dir


@pytest.fixture
def multi_client(multi_model_dir: Path) -> Iterator[FlaskClient]:
    settings = Settings(
        model_dir=multi_model_dir, log_level="WARNING", max_instances=10, max_body_bytes=4096
    )
    with create_app(settings).test_client() as test_client:
        yield test_client


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
# One valid credit applicant, as a client of the credit example sends it.
APPLICANT = {
    "address": "Hohe Straße 12, Köln",
    "age": 41,
    "income": 3200.0,
    "loan_amount": 15000.0,
    "term_months": 48,
}


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
    workdir = tmp_path_factory.mktemp("credit-bundle")
    params = load_params(PROJECT / "params.yaml", "credit")
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
    publish(
        workdir / "trained",
        workdir / "m.json",
        list(credit_split),
        {},
        bundle_dir,
        confusion_path=workdir / "c.csv",
    )
    return bundle_dir


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
