"""Benchmarks: scripts that start real servers, load them with wrk and print numbers.

Not tests: nothing here asserts a speed. ``make bench`` runs ``python -m benchmarks.bench``.
``harness`` (real server processes) and ``hostile`` (hostile clients) use only the standard
library: the integration tests import them too.
"""
