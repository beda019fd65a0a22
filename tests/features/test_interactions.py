"""ProductFeatures follows scikit-learn's contract and derives the columns the model uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeserve.features.interactions import ProductFeatures


@parametrize_with_checks([ProductFeatures(), ProductFeatures(products={"p01": (0, 1)})])
def test_follows_the_scikit_learn_estimator_contract(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"length": [1.0, 2.0, 3.0], "width": [0.5, 1.0, 2.0], "other": [9.0] * 3})


def test_appends_the_product_of_named_columns(frame: pd.DataFrame) -> None:
    transformer = ProductFeatures(products={"area": ("length", "width")}).fit(frame)

    result = transformer.transform(frame)

    np.testing.assert_allclose(result[:, :3], frame.to_numpy())
    np.testing.assert_allclose(result[:, 3], [0.5, 2.0, 6.0])
    assert list(transformer.get_feature_names_out()) == ["length", "width", "other", "area"]


def test_pandas_output_carries_the_new_feature_name(frame: pd.DataFrame) -> None:
    transformer = ProductFeatures(products={"area": ("length", "width")}).set_output(
        transform="pandas"
    )

    result = transformer.fit_transform(frame)

    assert list(result.columns) == ["length", "width", "other", "area"]


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ({"area": ("length", "height")}, "'height' is not among the input features"),
        ({"area": ("length",)}, "must name exactly two columns"),
        ({"area": ("length", 7)}, "7 is neither a feature name nor a position"),
    ],
)
def test_rejects_pairs_that_do_not_name_two_columns(
    frame: pd.DataFrame, products: dict[str, tuple[str | int, ...]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ProductFeatures(products=products).fit(frame)


def test_transform_refuses_a_frame_with_other_columns(frame: pd.DataFrame) -> None:
    transformer = ProductFeatures(products={"area": ("length", "width")}).fit(frame)

    with pytest.raises(ValueError, match="feature names"):
        transformer.transform(frame.rename(columns={"width": "breadth"}))


def test_round_trips_through_skops_with_its_learned_state(frame: pd.DataFrame) -> None:
    transformer = ProductFeatures(products={"area": ("length", "width")}).fit(frame)
    payload = skops.io.dumps(transformer)

    restored = skops.io.loads(payload, trusted=skops.io.get_untrusted_types(data=payload))

    np.testing.assert_array_equal(restored.transform(frame), transformer.transform(frame))
    assert clone(restored).get_params() == transformer.get_params()
