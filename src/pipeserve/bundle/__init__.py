"""Bundles: the verified, self-describing directory that training writes and serving reads.

Rule: bundles are data, not code. Pipelines are persisted with skops and loaded only after every
file matched its recorded sha256 and every type in them is on the trusted list of whoever loads
them (never a list stored in the bundle); never with pickle or joblib.

Teams without DVC build a bundle from Python::

    from pipeserve.bundle import build_bundle

    pipeline.fit(train.drop(columns="price"), train["price"])
    build_bundle(pipeline, train, "models/prices", target="price", name="prices",
                 version="1", metrics={"rmse": 3.2}, trusted_types=["my_project.features.Age"])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeserve.bundle.io import (
    LoadedBundle,
    load_bundle,
    read_manifest,
    verify_bundle,
    write_bundle,
)
from pipeserve.bundle.manifest import Manifest

if TYPE_CHECKING:
    import pandas as pd


def build_bundle(
    pipeline: Any,
    sample: pd.DataFrame,
    output: Path | str,
    *,
    name: str,
    version: str,
    target: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    trusted_types: Iterable[str] = (),
    compile_fast_path: bool = True,
) -> Manifest:
    """Write a fitted scikit-learn ``pipeline`` as a served bundle at ``output``.

    ``sample`` holds rows the pipeline was trained on (the input schema, the ranges seen in
    training and the documented example come from them; its ``target`` column, if named, is
    dropped). ``trusted_types`` lists the project's reviewed types beyond scikit-learn's and
    pipeserve's own: a pipeline holding any other is refused
    (:class:`~pipeserve.errors.UntrustedTypeError`), and the server must be given the same list
    (``PIPESERVE_TRUSTED_TYPES``). ``compile_fast_path`` tries the verified ONNX form (needs the
    ``train`` extra). Returns the manifest as written.
    """
    # Needs scikit-learn and the converters: imported only by those who build.
    from pipeserve.training.build import build_bundle as build  # noqa: PLC0415

    return build(
        pipeline,
        sample,
        Path(output),
        name=name,
        version=version,
        target=target,
        metrics=metrics,
        trusted_types=trusted_types,
        compile_fast_path=compile_fast_path,
    )


__all__ = [
    "LoadedBundle",
    "Manifest",
    "build_bundle",
    "load_bundle",
    "read_manifest",
    "verify_bundle",
    "write_bundle",
]
