"""``pipeserve init DIR``: write a new project that trains, bundles and serves its own pipeline.

The template (``pipeserve/project/template``) is a working project: a package with the pipeline
builder and one custom transformer, a notebook that generates its data offline, params.yaml,
dvc.yaml, a Makefile, a Dockerfile, deploy/ manifests and a test. Every template file ends in
``.tmpl`` (so that no tool of this repository lints, type-checks or collects it) and may hold
the placeholders below; a directory named ``__package__`` becomes the project's package.

Until pipeserve is on a package index, the project installs it from the source checkout that
``init`` ran from; the Makefile says how to pin a released version instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pipeserve import __version__
from pipeserve.errors import ConfigurationError

_SUFFIX = ".tmpl"
_PACKAGE_DIR = "__package__"
# Written without their dot in the template: package data globs skip hidden files.
_DOTFILES = {"dockerignore": ".dockerignore", "gitignore": ".gitignore"}


@dataclass(frozen=True)
class InitReport:
    """What ``init`` wrote and where pipeserve will be installed from."""

    directory: Path
    package: str
    model_name: str
    files: list[Path]
    pipeserve_requirement: str
    source: Path | None


def source_checkout() -> Path | None:
    """The pipeserve source checkout this package runs from (an editable install), if any."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or not (root / "src" / "pipeserve").is_dir():
        return None
    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
    except (tomllib.TOMLDecodeError, KeyError):
        return None
    return root if name == "pipeserve" else None


def _names(directory: Path, package: str | None) -> tuple[str, str]:
    base = directory.resolve().name.lower()
    model = re.sub(r"[^a-z0-9_.-]+", "-", base).strip("-._") or "model"
    package = package or re.sub(r"\W+", "_", base).strip("_") or "model"
    if package[0].isdigit():
        package = f"model_{package}"
    if not package.isidentifier():
        raise ConfigurationError(f"--package {package!r} is not a Python package name")
    return package, model[:63]


def _walk(node: Traversable, relative: Path) -> list[tuple[Path, Traversable]]:
    found: list[tuple[Path, Traversable]] = []
    for child in node.iterdir():
        if child.is_dir():
            if child.name != "__pycache__":
                found += _walk(child, relative / child.name)
        elif child.name.endswith(_SUFFIX):
            found.append((relative / child.name.removesuffix(_SUFFIX), child))
    return found


def init_project(directory: Path, *, package: str | None = None) -> InitReport:
    """Write the template into ``directory`` (created if missing, and it must be empty).

    Raises :class:`ConfigurationError` when ``directory`` holds files already or ``package`` is
    not a valid Python name.
    """
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise ConfigurationError(f"{directory} is not empty; pipeserve init writes a new project")
    package, model = _names(directory, package)
    source = source_checkout()
    requirement = (
        f"pipeserve[train] @ {source.as_uri()}" if source else f"pipeserve[train]=={__version__}"
    )
    values = {
        "__PACKAGE__": package,
        "__MODEL__": model,
        "__PIPESERVE_REQUIREMENT__": requirement,
        "__PIPESERVE_SOURCE__": str(source) if source else "",
        "__PIPESERVE_VERSION__": __version__,
    }
    written: list[Path] = []
    template = resources.files("pipeserve.project") / "template"
    for relative, node in sorted(_walk(template, Path()), key=lambda item: str(item[0])):
        parts = [package if part == _PACKAGE_DIR else part for part in relative.parts]
        parts[-1] = _DOTFILES.get(parts[-1], parts[-1]) if len(parts) == 1 else parts[-1]
        target = directory.joinpath(*parts)
        text = node.read_text(encoding="utf-8")
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    constraints = source / "requirements" / "constraints.txt" if source else None
    locked = directory / "requirements" / "constraints.txt"
    locked.parent.mkdir(parents=True, exist_ok=True)
    if constraints is not None and constraints.is_file():
        # The versions pipeserve is tested with: the project starts from the same lock.
        locked.write_text(constraints.read_text(encoding="utf-8"), encoding="utf-8")
    else:
        locked.write_text("# pip constraints (pin versions here)\n", encoding="utf-8")
    written.append(locked)
    return InitReport(directory, package, model, written, requirement, source)
