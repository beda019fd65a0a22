"""The iris example: a decision tree, calibrated SVM or small neural net after an engineered
product feature, built the way any project's pipeline is (``train.pipeline:
iris_example.pipeline:build`` in params.yaml)."""
