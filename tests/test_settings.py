"""Settings come from PIPESERVE_* variables, are checked, and docs/settings.md lists them all."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeserve.settings import Settings

ROOT = Path(__file__).parents[1]


def test_defaults_serve_the_example_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "WORKERS", "MODEL_DIR"):
        monkeypatch.delenv(f"PIPESERVE_{name}", raising=False)

    settings = Settings()

    assert (settings.host, settings.port, settings.model_dir) == ("127.0.0.1", 8080, Path("models"))


def test_environment_variables_override_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPESERVE_HOST", "0.0.0.0")  # noqa: S104
    monkeypatch.setenv("PIPESERVE_PORT", "9000")
    monkeypatch.setenv("PIPESERVE_WORKERS", "3")
    monkeypatch.setenv("PIPESERVE_MODEL_DIR", "/srv/models")

    settings = Settings()

    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.port == 9000
    assert settings.workers == 3
    assert settings.model_dir == Path("/srv/models")


def test_an_invalid_value_is_refused_with_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPESERVE_PORT", "eighty")

    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_the_settings_page_table_matches_the_code() -> None:
    spec = importlib.util.spec_from_file_location("settings_doc", ROOT / "tools/settings_doc.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (ROOT / "docs/settings.md").read_text(encoding="utf-8")

    assert module.render(page) == page, "run `make docs` to update docs/settings.md"
