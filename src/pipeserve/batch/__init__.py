"""Batch scoring of files and tables: the local engine (one process, chunk by chunk) and the
Spark engine (``pipeserve.spark``, the ``spark`` extra).

Rule: both engines score through one step (:func:`pipeserve.batch.chunks.score_chunk`), which
validates with the HTTP API's column validator and predicts with its :class:`Predictor`; columns
stay columns (Arrow or NumPy) from the file to the output, and a row is looked at in Python only
when it is rejected. pyarrow and pyspark are imported only when a file or a session needs them.
"""

CHUNK_SIZE = 65_536
"""Rows scored at a time by default (the local engine's chunk, Spark's Arrow batch): large
enough that the per-chunk costs (a Parquet row group, an onnxruntime call, a Spark batch) vanish
per row, small enough that a chunk of a wide table stays well under 100 MB."""
