"""The credit example: geocode an address, measure the distance to the nearest large city, derive
loan ratios, then a classifier; built the way any project's pipeline is (``train.pipeline:
credit_example.pipeline:build`` in params.yaml)."""
