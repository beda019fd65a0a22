"""A user's project: ``params.yaml`` as pipeserve reads it, the pipeline builder it names by
import path, and the ``pipeserve init`` template.

Rule: pipeserve knows nothing of a project's own parameters. It reads the keys it needs
(``train.pipeline``, ``train.target``, ``bundle.*``) and hands the rest of ``train`` to the
project's builder.
"""
