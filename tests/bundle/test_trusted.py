"""Trust comes from whoever loads a bundle (the server's settings, the project's file), never
from the bundle; a refusal names each type and where to review it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.pipeline import Pipeline

from pipeserve.bundle.io import load_bundle, write_bundle
from pipeserve.bundle.trusted import (
    BUILTIN_TRUSTED_TYPES,
    SERVER_SETTINGS,
    Trust,
    configured_trust,
    read_trusted_types,
)
from pipeserve.errors import BundleCodeMissingError, ConfigurationError, UntrustedTypeError
from tests.bundle.test_io import Sneaky
from tests.conftest import FEATURES, iris_frame

SNEAKY = "tests.bundle.test_io.Sneaky"


@pytest.fixture
def sneaky_bundle(bundle_dir: Path, tmp_path: Path) -> Path:
    loaded = load_bundle(bundle_dir)
    pipeline = Pipeline([("sneaky", Sneaky()), ("rest", loaded.pipeline)])
    pipeline.fit(iris_frame()[FEATURES], iris_frame()["species"])
    write_bundle(tmp_path / "sneaky", pipeline, loaded.manifest)
    return tmp_path / "sneaky"


def test_a_trusted_types_file_lists_names_and_ignores_comments(tmp_path: Path) -> None:
    path = tmp_path / "trusted_types.txt"
    path.write_text("# reviewed\n\nmy_project.features.Age  # ages\nother.mod.Thing\n")

    assert read_trusted_types(path) == ["my_project.features.Age", "other.mod.Thing"]


@pytest.mark.parametrize("line", ["Age", "my project.Age", "my_project..Age"])
def test_a_line_that_is_not_a_qualified_name_is_refused_with_its_number(
    tmp_path: Path, line: str
) -> None:
    path = tmp_path / "trusted_types.txt"
    path.write_text(f"# header\n{line}\n")

    with pytest.raises(ConfigurationError, match=r"trusted_types\.txt:2:"):
        read_trusted_types(path)


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        configured_trust([], tmp_path / "nope.txt")


def test_the_server_trusts_its_settings_on_top_of_the_builtin_list(tmp_path: Path) -> None:
    path = tmp_path / "trusted_types.txt"
    path.write_text("from.the.File\n")

    trust = configured_trust(["from.the.Variable"], path)

    assert trust.types == BUILTIN_TRUSTED_TYPES | {"from.the.Variable", "from.the.File"}
    assert trust.review == SERVER_SETTINGS


def test_a_refusal_names_the_type_and_the_setting_to_review(sneaky_bundle: Path) -> None:
    with pytest.raises(UntrustedTypeError) as refused:
        load_bundle(sneaky_bundle, trust=configured_trust([], None))

    assert SNEAKY in refused.value.message
    assert "PIPESERVE_TRUSTED_TYPES" in refused.value.message
    assert refused.value.details["types"] == [SNEAKY]


def test_a_list_inside_the_bundle_does_not_vouch_for_it(sneaky_bundle: Path) -> None:
    (sneaky_bundle / "trusted_types.txt").write_text(f"{SNEAKY}\n")

    with pytest.raises(UntrustedTypeError, match=SNEAKY):
        load_bundle(sneaky_bundle)


def test_a_declared_type_loads(sneaky_bundle: Path) -> None:
    loaded = load_bundle(sneaky_bundle, trust=Trust.with_types([SNEAKY]))

    assert type(loaded.pipeline[0]) is Sneaky


@pytest.fixture
def vanishing_module(tmp_path: Path) -> Iterator[str]:
    """A package importable while the bundle is written, gone when it is loaded: the serving
    image without the project's package."""
    package = tmp_path / "code" / "gone_project"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from sklearn.base import BaseEstimator, TransformerMixin\n\n\n"
        "class Keep(TransformerMixin, BaseEstimator):\n"
        "    def fit(self, X, y=None):\n        return self\n\n"
        "    def transform(self, X):\n        return X\n"
    )
    entry = str(package.parent)
    sys.path.insert(0, entry)
    try:
        yield "gone_project"
    finally:
        if entry in sys.path:
            sys.path.remove(entry)
        sys.modules.pop("gone_project", None)


def test_a_bundle_whose_module_cannot_be_imported_names_the_module(
    bundle_dir: Path, tmp_path: Path, vanishing_module: str
) -> None:
    import importlib

    keep = importlib.import_module(vanishing_module).Keep
    loaded = load_bundle(bundle_dir)
    pipeline = Pipeline([("keep", keep()), ("rest", loaded.pipeline)])
    pipeline.fit(iris_frame()[FEATURES], iris_frame()["species"])
    write_bundle(tmp_path / "needs-code", pipeline, loaded.manifest)
    sys.path.remove(str(tmp_path / "code"))
    sys.modules.pop(vanishing_module)

    with pytest.raises(BundleCodeMissingError, match="'gone_project'") as missing:
        load_bundle(tmp_path / "needs-code", trust=Trust.with_types([f"{vanishing_module}.Keep"]))

    assert missing.value.details["module"] == vanishing_module
