"""Publish a trained bundle for serving: add its metrics and lineage and write it to
``models/<name>/``.

This is a stage of its own so that no DVC stage rewrites another stage's output: ``train``
writes the fitted pipeline, ``evaluate`` the metrics, and ``bundle`` combines both.
"""

from __future__ import annotations

import shutil

# Runs git with fixed arguments and no shell, to record the code revision.
import subprocess  # nosec B404
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from pipeserve.bundle.io import load_bundle, write_bundle
from pipeserve.bundle.manifest import FastPath, InputDigest, Lineage, Manifest
from pipeserve.bundle.trusted import Trust
from pipeserve.errors import TrainingError
from pipeserve.training.compile import ONNX_FILE, compile_pipeline
from pipeserve.training.data import file_md5

_PANDAS_DTYPES: dict[str, Any] = {"float64": "float64", "int64": "int64", "string": object}


def git_revision(cwd: Path) -> tuple[str | None, bool | None]:
    """The checked-out commit and whether tracked files differ from it; ``(None, None)`` outside
    a git work tree or without git."""
    git = shutil.which("git")
    if git is None:
        return None, None
    head = subprocess.run(  # noqa: S603  # nosec B603
        [git, "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        return None, None
    status = subprocess.run(  # noqa: S603  # nosec B603
        [git, "status", "--porcelain", "--untracked-files=no"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    return head.stdout.strip(), bool(status.stdout.strip())


def publish(
    trained_dir: Path,
    metrics_path: Path,
    inputs: list[Path],
    params: dict[str, Any],
    output_dir: Path,
    *,
    trust: Trust | None = None,
) -> Manifest:
    """Verify the trained bundle, attach metrics and lineage, and write the served bundle.

    Raises :class:`TrainingError` when the metrics file is missing or not a JSON object,
    :class:`~pipeserve.errors.UntrustedTypeError` when the pipeline holds a type outside
    ``trust`` (the project's declared list; default: pipeserve's built-in one) and
    :class:`~pipeserve.errors.BundleError` when the trained bundle does not verify.
    """
    bundle = load_bundle(trained_dir, trust=trust)
    try:
        metrics = orjson.loads(Path(metrics_path).read_bytes())
    except FileNotFoundError as error:
        raise TrainingError(f"{metrics_path} does not exist (run the evaluate stage)") from error
    except orjson.JSONDecodeError as error:
        raise TrainingError(f"{metrics_path} is not valid JSON") from error
    if not isinstance(metrics, dict):
        raise TrainingError(f"{metrics_path} must hold a JSON object of metrics")
    revision, dirty = git_revision(Path.cwd())
    lineage = Lineage(
        git_revision=revision,
        git_dirty=dirty,
        inputs=[InputDigest(path=Path(p).as_posix(), md5=file_md5(p)) for p in inputs],
        params=params,
    )
    manifest = bundle.manifest.model_copy(update={"metrics": metrics, "lineage": lineage})
    extra: dict[str, bytes] | None = None
    if inputs:
        compiled = compile_pipeline(bundle.pipeline, _input_rows(inputs, manifest))
        manifest = manifest.model_copy(update={"fast_path": compiled.report})
        extra = {ONNX_FILE: compiled.onnx} if compiled.onnx is not None else None
    else:
        reason = "no --input data to check a compiled form against"
        manifest = manifest.model_copy(update={"fast_path": FastPath(reason=reason)})
    return write_bundle(output_dir, bundle.pipeline, manifest, extra)


def _input_rows(inputs: list[Path], manifest: Manifest) -> pd.DataFrame:
    """The raw feature columns of the prepared data, typed as the server will pass them, to
    check the compiled form against: every row scikit-learn was trained and tested on."""
    dtypes = {feature.name: _PANDAS_DTYPES[feature.dtype] for feature in manifest.features}
    frames = [
        pd.read_csv(path, keep_default_na=False, na_values=[""])[list(dtypes)].astype(dtypes)
        for path in inputs
    ]
    return pd.concat(frames, ignore_index=True)
