"""The admin reload route exists only when enabled, and switches versions without a gap."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeserve.api import create_app
from pipeserve.errors import ConfigurationError
from pipeserve.settings import Settings
from tests.conftest import copy_bundle


def test_the_admin_routes_are_off_by_default(settings: Settings) -> None:
    client = create_app(settings).test_client()

    assert client.post("/admin/reload").status_code == 404


def test_reload_serves_a_new_version_and_reports_it(tmp_path: Path, session_bundle: Path) -> None:
    repository = tmp_path / "models"
    copy_bundle(session_bundle, repository / "iris" / "1", "1")
    settings = Settings(
        model_dir=repository,
        admin_enabled=True,
        admin_tokens=SecretStr("admin-secret"),
        log_level="WARNING",
    )
    client = create_app(settings).test_client()
    copy_bundle(session_bundle, repository / "iris" / "2", "2")

    before = client.get("/api/v1/models/iris").get_json()["version"]
    report = client.post(
        "/admin/reload", headers={"Authorization": "Bearer admin-secret"}
    ).get_json()
    after = client.get("/api/v1/models/iris").get_json()["version"]

    assert (before, after) == ("1", "2")
    assert report["loaded"] == ["iris/2"]
    assert report["unchanged"] == ["iris/1"]
    assert isinstance(report["worker_pid"], int)


def test_admin_routes_are_never_open(settings: Settings) -> None:
    with pytest.raises(ConfigurationError, match="PIPESERVE_ADMIN_TOKENS"):
        create_app(settings.model_copy(update={"admin_enabled": True}))
