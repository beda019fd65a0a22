"""``params.yaml``, parsed and checked before any training starts.

DVC tracks the same file (``dvc params diff``, ``dvc exp run -S train.svm.C=2``). pipeserve reads
only its own keys, typed, so a wrong value fails with a message naming the key instead of a
traceback halfway through a run::

    train:
      pipeline: my_project.pipeline:build   # called with the rest of this section
      target: price                         # the column to predict
      positive_class: default               # optional: binary classifiers' probability metrics
      ...                                   # anything else: the builder's own parameters
    bundle:
      name: my-model
      version: "1"

A project with several models keeps each in a group of its own (``loans: {train: ..., bundle:
...}``) and names it with ``--section``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeserve.errors import ConfigurationError

# The keys of ``train`` that pipeserve reads itself; the builder gets everything else.
PIPESERVE_TRAIN_KEYS = frozenset({"pipeline", "target", "positive_class"})


class TrainParams(BaseModel):
    """The ``train`` section: the builder, the target column, and the builder's parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    pipeline: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="The pipeline builder as module:function, called with the rest of train.",
    )
    target: str = Field(min_length=1, description="The column the pipeline predicts.")
    positive_class: str | None = Field(
        default=None,
        description="Binary classifiers: the class whose probability ROC AUC and Brier use.",
    )

    @property
    def builder_params(self) -> dict[str, Any]:
        """The section without pipeserve's own keys: what the builder is called with."""
        return dict(self.model_extra or {})


class BundleParams(BaseModel):
    """The ``bundle`` section: how the served model is named and versioned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    version: str = Field(default="1", min_length=1, max_length=64)


class ProjectParams(BaseModel):
    """The sections of a model's params that pipeserve reads (others are the project's)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    train: TrainParams
    bundle: BundleParams


def read_yaml(path: Path) -> dict[str, Any]:
    """The whole params file as a mapping.

    Raises :class:`ConfigurationError` when it is missing, not YAML or not a mapping.
    """
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigurationError(f"params file {path} does not exist", path=str(path)) from error
    except yaml.YAMLError as error:
        raise ConfigurationError(f"params file {path} is not valid YAML", path=str(path)) from error
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigurationError(f"params file {path} must hold a mapping", path=str(path))
    return raw


def read_section(path: Path, section: str | None) -> dict[str, Any]:
    """The mapping at ``section`` (a dotted path such as ``loans`` or ``loans.prepare``) or
    the whole file.

    Raises :class:`ConfigurationError` when the section does not exist.
    """
    raw: Any = read_yaml(path)
    for key in section.split(".") if section else ():
        if not isinstance(raw, dict) or key not in raw:
            raise ConfigurationError(f"{path} has no section {section!r}", path=str(path))
        raw = raw[key]
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path}: {section} must be a mapping", path=str(path))
    return raw


def load_params(path: Path, section: str | None = None) -> ProjectParams:
    """Read and check the ``train`` and ``bundle`` keys of ``params.yaml`` (of its group
    ``section``, when given).

    Raises :class:`ConfigurationError` naming the file and the offending key.
    """
    raw = read_section(path, section)
    prefix = tuple(section.split(".")) if section else ()
    try:
        return ProjectParams.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in (*prefix, *e['loc']))}: {e['msg']}" for e in error.errors()
        )
        raise ConfigurationError(f"{path}: {problems}", path=str(path)) from error


def raw_section(path: Path, section: str | None) -> dict[str, Any]:
    """The ``train`` and ``bundle`` sections as written in the file (for the bundle's lineage)."""
    raw = read_section(path, section)
    return {key: raw[key] for key in ("train", "bundle") if key in raw}


def project_root(start: Path) -> Path:
    """The directory holding params.yaml, at ``start`` or above: the working directory when DVC
    runs a notebook as a script, a parent when a notebook kernel starts in ``notebooks/``.

    Raises :class:`FileNotFoundError` when there is none.
    """
    for directory in (start, *start.parents):
        if (directory / "params.yaml").is_file():
            return directory
    raise FileNotFoundError(f"no params.yaml in {start} or its parents")
