"""The compiled fast path: the bundle's verified ONNX model run by onnxruntime.

One session per process (each Gunicorn worker loads its own), tuned for small inputs: one
thread for the operators, sequential execution; a single-row request is dominated by call
overhead, where thread pools only add latency. ``InferenceSession.run`` is thread-safe, so the
threads of a worker share the session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
from numpy.typing import NDArray

from pipeserve.bundle.manifest import FastPath

_PROBABILITIES = "probabilities"


class CompiledPipeline:
    """Probabilities from the ONNX tail, after the Python head steps (if any)."""

    def __init__(self, onnx: bytes, pipeline: Any, fast_path: FastPath) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only: its warnings would flood our JSON logs
        self._session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        names = [output.name for output in self._session.get_outputs()]
        self._output = _PROBABILITIES if _PROBABILITIES in names else names[-1]
        self._dtype = np.float64 if fast_path.input_dtype == "float64" else np.float32
        self._head = pipeline[: fast_path.head_steps] if fast_path.head_steps else None

    @property
    def needs_frame(self) -> bool:
        """Whether Python steps (which may need column names) run before the ONNX model."""
        return self._head is not None

    def predict_proba_matrix(self, matrix: NDArray[Any]) -> NDArray[np.float64]:
        """Class probabilities for rows already in the compiled model's input layout."""
        data = np.ascontiguousarray(matrix, dtype=self._dtype)
        (probabilities,) = self._session.run([self._output], {self._input: data})
        return np.asarray(probabilities, dtype=np.float64)

    def predict_proba_frame(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """Class probabilities for raw input rows (the bundle's feature columns)."""
        data = self._head.transform(frame) if self._head is not None else frame.to_numpy()
        return self.predict_proba_matrix(np.asarray(data))
