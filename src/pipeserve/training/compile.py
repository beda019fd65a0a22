"""Compile a fitted pipeline to ONNX for the serving fast path, and prove it answers the same.

The compiled form is used only if it reproduces scikit-learn exactly where it matters: the same
label for every checked row (train and test data) and every class probability within
:data:`TOLERANCE`. Double precision is tried first; float32 only when the model's ONNX operators
have no double form (tree ensembles), and the check decides whether float32 thresholds are
good enough. Leading steps without an ONNX converter (a geocoder, say) stay
in Python and only the tail after them is compiled. Whatever happens, the outcome is recorded in
the bundle's :class:`~pipeserve.bundle.manifest.FastPath`.

Needs the ``train`` extra (skl2onnx, onnx); serving needs only onnxruntime.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.pipeline import Pipeline

from pipeserve.bundle.manifest import FastPath
from pipeserve.features.interactions import ProductFeatures
from pipeserve.inference.compiled import CompiledPipeline

logger = logging.getLogger(__name__)

ONNX_FILE = "pipeline.onnx"
# Largest allowed difference of any class probability between ONNX and scikit-learn.
TOLERANCE = 1e-6
_OPSETS = {"": 17, "ai.onnx.ml": 3}
_REASON_CHARS = 160
# Input precisions to try, best first (trees have no double-precision ONNX operator).
_DTYPES: tuple[Literal["float64", "float32"], ...] = ("float64", "float32")


@dataclass(frozen=True)
class Compiled:
    """The ONNX model (``None`` if no form passed the check) and the report for the manifest."""

    onnx: bytes | None
    report: FastPath


def _product_features_shape(operator: Any) -> None:
    transformer = operator.raw_operator
    rows = operator.inputs[0].get_first_dimension()
    width = transformer.n_features_in_ + len(transformer.product_indices_)
    operator.outputs[0].type = operator.inputs[0].type.__class__([rows, width])


def _product_features_converter(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_ops import OnnxConcat, OnnxGather, OnnxIdentity, OnnxMul  # noqa: PLC0415

    transformer, opset = operator.raw_operator, container.target_opset
    data, output = operator.inputs[0], operator.outputs[0]
    if not transformer.product_indices_:
        OnnxIdentity(data, op_version=opset, output_names=[output]).add_to(scope, container)
        return
    products = [
        OnnxMul(
            OnnxGather(data, np.array([left], dtype=np.int64), axis=1, op_version=opset),
            OnnxGather(data, np.array([right], dtype=np.int64), axis=1, op_version=opset),
            op_version=opset,
        )
        for left, right in transformer.product_indices_
    ]
    OnnxConcat(data, *products, axis=1, op_version=opset, output_names=[output]).add_to(
        scope, container
    )


def _register_converters() -> None:
    from skl2onnx import update_registered_converter  # noqa: PLC0415

    update_registered_converter(
        ProductFeatures,
        "PipeserveProductFeatures",
        _product_features_shape,
        _product_features_converter,
    )


def _convert(tail: Pipeline, width: int, dtype_name: str) -> bytes:
    from skl2onnx import convert_sklearn  # noqa: PLC0415
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType  # noqa: PLC0415

    tensor = DoubleTensorType if dtype_name == "float64" else FloatTensorType
    with warnings.catch_warnings():
        # skl2onnx reads SVC's probA_/probB_, which scikit-learn 1.9 deprecates along with
        # SVC(probability=True); we never set that option, and the check below is the judge.
        warnings.filterwarnings("ignore", message=r"Attribute `prob[AB]_`", category=FutureWarning)
        model = convert_sklearn(
            tail,
            initial_types=[("input", tensor([None, width]))],
            options={"zipmap": False},
            target_opset=_OPSETS,
            # A fixed graph name: skl2onnx's default is a random uuid, which would make every
            # rebuild of the same pipeline differ in bytes.
            name="pipeserve",
        )
    # skl2onnx lists the opsets in a set's order, which changes with the hash seed of the run:
    # sorted, the same pipeline gives the same bytes in every build.
    opsets = sorted((entry.domain, entry.version) for entry in model.opset_import)
    del model.opset_import[:]
    for domain, opset in opsets:
        model.opset_import.add(domain=domain, version=opset)
    return bytes(model.SerializeToString())


def _check(
    compiled: CompiledPipeline, features: pd.DataFrame, expected: NDArray[np.float64]
) -> tuple[bool, float]:
    actual = compiled.predict_proba_frame(features)
    labels_equal = bool(np.array_equal(actual.argmax(axis=1), expected.argmax(axis=1)))
    return labels_equal, float(np.abs(actual - expected).max())


def _summary(error: BaseException) -> str:
    """The first line of an error, shortened: converter errors can dump whole models."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = f"{type(error).__name__}: {first}"
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 1] + "…"


def compile_pipeline(pipeline: Pipeline, features: pd.DataFrame) -> Compiled:
    """Compile ``pipeline`` and check it on ``features`` (raw input rows, for example the
    training and test data); never raises for a pipeline that cannot be compiled."""
    versions = {name: version(name) for name in ("skl2onnx", "onnx", "onnxruntime")}
    if not hasattr(pipeline, "predict_proba"):
        return Compiled(None, FastPath(reason="the pipeline gives no probabilities"))
    _register_converters()
    expected = np.asarray(pipeline.predict_proba(features), dtype=np.float64)
    reasons: list[str] = []
    for head in range(len(pipeline.steps)):
        tail = pipeline[head:]
        try:
            tail_input = pipeline[:head].transform(features) if head else features
            width = np.asarray(tail_input, dtype=np.float64).shape[1]
        except (TypeError, ValueError) as error:
            reasons.append(f"steps {head}+: input is not numeric ({_summary(error)})")
            continue
        for dtype_name in _DTYPES:
            try:
                onnx = _convert(tail, width, dtype_name)
                report = FastPath(head_steps=head, input_dtype=dtype_name)
                compiled = CompiledPipeline(onnx, pipeline, report)
            # skl2onnx and onnxruntime raise many unrelated types for an unsupported model.
            except Exception as error:
                reasons.append(f"steps {head}+ as {dtype_name}: {_summary(error)}")
                continue
            labels_equal, difference = _check(compiled, features, expected)
            if labels_equal and difference <= TOLERANCE:
                report = report.model_copy(
                    update={
                        "file": ONNX_FILE,
                        "verified": True,
                        "rows_checked": len(features),
                        "labels_equal": True,
                        "max_probability_difference": difference,
                        "tolerance": TOLERANCE,
                        "converter_versions": versions,
                    }
                )
                logger.info(
                    "compiled to ONNX (%s, %d Python steps first): %d rows, max |dp| %.2g",
                    dtype_name,
                    head,
                    len(features),
                    difference,
                )
                return Compiled(onnx, report)
            reasons.append(
                f"steps {head}+ as {dtype_name}: labels equal {labels_equal}, max probability "
                f"difference {difference:.3g} > {TOLERANCE}"
            )
    reason = "; ".join(reasons[-3:]) or "no step could be compiled"
    logger.warning("no verified ONNX form; serving will use scikit-learn: %s", reason)
    return Compiled(
        None,
        FastPath(reason=reason, rows_checked=len(features), converter_versions=versions),
    )
