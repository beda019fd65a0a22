"""skops files are byte-reproducible: the same fitted pipeline gives the same bytes in any
process, and the canonical file loads to the same pipeline."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io

from pipeserve.bundle.archive import FIXED_TIMESTAMP, canonical_skops
from pipeserve.bundle.io import load_bundle
from pipeserve.project.builder import build_estimator
from tests.conftest import FEATURES, iris_frame


def _fitted() -> object:
    frame = iris_frame()
    params = {"estimator": "svm", "products": {"area": ["petal_length", "petal_width"]}}
    pipeline = build_estimator("iris_example.pipeline:build", params)
    return pipeline.fit(frame[FEATURES], frame["species"])


def test_two_equal_pipelines_give_the_same_bytes_where_skops_alone_does_not() -> None:
    # Both alive at once, so their objects have different addresses (skops' __id__ values).
    first, second = _fitted(), _fitted()
    raw_first, raw_second = skops.io.dumps(first), skops.io.dumps(second)

    assert raw_first != raw_second
    assert canonical_skops(raw_first) == canonical_skops(raw_second)


def test_the_canonical_file_has_fixed_timestamps_and_numbered_entries(bundle_dir: Path) -> None:
    data = (bundle_dir / "pipeline.skops").read_bytes()

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()

    assert {info.date_time for info in infos} == {FIXED_TIMESTAMP}
    assert [info.filename for info in infos] == sorted(info.filename for info in infos)
    assert all(
        info.filename == "schema.json" or info.filename.split(".")[0].isdigit() for info in infos
    )
    assert canonical_skops(data) == data  # idempotent


def test_the_canonical_file_loads_to_the_same_predictions(bundle_dir: Path) -> None:
    pipeline = load_bundle(bundle_dir).pipeline
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    frame = pd.DataFrame(rows, columns=list(pipeline.feature_names_in_))
    raw = skops.io.dumps(pipeline)
    canonical = canonical_skops(raw)

    reloaded = skops.io.loads(canonical, trusted=skops.io.get_untrusted_types(data=canonical))
    np.testing.assert_array_equal(reloaded.predict_proba(frame), pipeline.predict_proba(frame))
    assert skops.io.get_untrusted_types(data=canonical) == skops.io.get_untrusted_types(data=raw)


def test_a_shared_array_stays_shared() -> None:
    shared = np.arange(5.0)
    data = canonical_skops(skops.io.dumps({"a": shared, "b": shared}))

    loaded = skops.io.loads(data)

    assert loaded["a"] is loaded["b"]


def test_anything_but_a_skops_archive_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("other.txt", "x")

    with pytest.raises(ValueError, match="not a skops archive"):
        canonical_skops(buffer.getvalue())


def test_equal_strings_give_the_same_bytes_whether_or_not_they_are_one_object() -> None:
    import numpy as np
    import skops.io

    from pipeserve.bundle.archive import canonical_skops

    name = "".join(["seto", "sa"])  # built at run time: not interned
    shared = {"a": np.array([name], dtype=object), "b": np.array([name], dtype=object)}
    other = "".join(["set", "osa"])
    apart = {"a": np.array([name], dtype=object), "b": np.array([other], dtype=object)}
    assert shared["b"][0] is shared["a"][0]
    assert apart["b"][0] is not apart["a"][0]

    assert canonical_skops(skops.io.dumps(shared)) == canonical_skops(skops.io.dumps(apart))
    loaded = skops.io.loads(canonical_skops(skops.io.dumps(shared)), trusted=[])
    assert [list(loaded["a"]), list(loaded["b"])] == [["setosa"], ["setosa"]]
