"""Feature engineering that runs inside the served pipeline.

Rule: every class here follows scikit-learn's estimator contract (``__init__`` stores its
arguments, learned state ends in ``_``) so that it fits, clones and persists with skops like any
scikit-learn transformer. Bundles may only contain classes listed in
``pipeserve.bundle.trusted``.
"""
