"""Benchmarks: scripts that start real servers, load them with wrk and print numbers.

Not tests: nothing here asserts a speed. ``make bench`` runs ``python -m benchmarks.bench``.
"""
