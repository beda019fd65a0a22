"""The Open Inference Protocol (KServe "V2", spoken by Triton and Seldon MLServer), REST flavour.

Inputs come in one of two layouts:

* one 2-D tensor ``[N, n_features]`` (FP*/INT*/UINT*) whose columns follow the bundle's feature
  order (``GET /v2/models/<name>`` lists the features as its inputs);
* one 1-D tensor ``[N]`` (or ``[N, 1]``) per feature, named like the feature, BYTES for string
  features, as MLServer's pandas codec sends them.

Outputs: ``predict`` (BYTES ``[N]``, the labels) and ``predict_proba`` (FP64 ``[N, n_classes]``,
columns in the class order the model metadata gives); the request's ``outputs`` picks which,
default both. Tensor data may be flat (row-major) or nested as the shape says. Triton's binary
tensor extension is read for inputs (``Inference-Header-Content-Length``); outputs are always
JSON, which Triton's clients accept too.

Pure: bytes in, plain data out; no Flask.

The package holds one concept per module: ``wire`` (the JSON shapes, which validate the envelope
and document it), ``tensors`` (datatypes and tensor data, JSON or binary), ``codec`` (requests to
columns, predictions to responses), ``metadata`` (server and model metadata) and ``schema`` (the
JSON Schema of one model's requests, for the OpenAPI document).
"""

from pipeserve.protocols.v2.codec import V2Codec, V2Request
from pipeserve.protocols.v2.metadata import model_metadata, server_metadata

__all__ = ["V2Codec", "V2Request", "model_metadata", "server_metadata"]
