"""Score a bundle on Apache Spark (the ``spark`` extra): the public names of the Spark engine.

    from pipeserve import spark
    scored = spark.score(frame, "models/credit", keys=["customer_id"])

The engine itself lives in :mod:`pipeserve.batch.spark`, beside the local engine it shares its
per-chunk step with; nothing here imports pyspark until called.
"""

from pipeserve.batch.spark import (
    EXTRA_MISSING,
    engine_error,
    require_pyspark,
    score,
    score_file,
    with_row_numbers,
)
from pipeserve.batch.spark_worker import REJECTED

__all__ = [
    "EXTRA_MISSING",
    "REJECTED",
    "engine_error",
    "require_pyspark",
    "score",
    "score_file",
    "with_row_numbers",
]
