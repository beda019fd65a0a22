"""The offline audit finds what the databases list, and never passes when it could not look."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]
SHARED_DB = ROOT.parent / "shared" / "data" / "vulnerability-db"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("offline_audit", ROOT / "tools/offline_audit.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


audit_tool = _load_tool()


def _osv_record(
    advisory_id: str, name: str, events: list[dict[str, str]], versions: list[str] | None = None
) -> str:
    affected = {
        "package": {"ecosystem": "PyPI", "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
        "versions": versions or [],
    }
    return json.dumps(
        {"id": advisory_id, "aliases": [f"CVE-{advisory_id}"], "affected": [affected]}
    )


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "db"
    directory.mkdir()
    records = [
        _osv_record("A-1", "Example_Lib", [{"introduced": "1.0"}, {"fixed": "1.4"}]),
        _osv_record("A-2", "other", [{"introduced": "0"}, {"last_affected": "2.0"}]),
        _osv_record("A-3", "listed", [{"introduced": "9.0"}], versions=["0.5"]),
    ]
    (directory / "pypa-advisory-db.jsonl").write_text("\n".join(records) + "\n", encoding="utf-8")
    safety = {"$meta": {"timestamp": 0}, "Safety.Only": ["<3.0", ">=4.0,<4.2"]}
    (directory / "pyup-safety-db-insecure.json").write_text(json.dumps(safety), encoding="utf-8")
    return directory


def _run(tmp_path: Path, db_dir: Path, lock: str, *extra: str) -> int:
    lock_file = tmp_path / "constraints.txt"
    lock_file.write_text(lock, encoding="utf-8")
    return int(audit_tool.main(["--lock", str(lock_file), "--db-dir", str(db_dir), *extra]))


@pytest.mark.parametrize(
    ("pin", "vulnerable"),
    [
        ("example-lib==0.9", False),
        ("example-lib==1.0", True),
        ("example-lib==1.3.9", True),
        ("example-lib==1.4", False),
        ("other==2.0", True),  # last_affected is inclusive
        ("other==2.0.1", False),
        ("listed==0.5", True),  # explicit versions list
        ("listed==0.6", False),
        ("safety-only==2.9", True),
        ("safety-only==4.1", True),
        ("safety-only==4.2", False),
    ],
)
def test_a_pin_is_flagged_exactly_when_a_database_lists_its_version(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str], pin: str, vulnerable: bool
) -> None:
    status = _run(tmp_path, db_dir, f"{pin}\n")

    assert status == (1 if vulnerable else 0)
    assert ("VULNERABLE" in capsys.readouterr().out) is vulnerable


def test_names_are_normalised_and_the_report_names_advisory_and_fix(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _run(tmp_path, db_dir, "Example.Lib==1.2 ; python_version >= '3'  # via something\n")

    out = capsys.readouterr().out
    assert status == 1
    assert "example-lib==1.2: A-1 (CVE-A-1) [pypa] (fixed in 1.4)" in out


def test_an_accepted_advisory_is_reported_but_does_not_fail(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _run(
        tmp_path,
        db_dir,
        "example-lib==1.2\nsafety-only==2.0\n",
        "--ignore",
        "CVE-A-1",
        "--ignore",
        "safety-only<3.0",
    )

    out = capsys.readouterr().out
    assert status == 0
    assert out.count("accepted") == 3  # two lines and the summary
    assert "0 known vulnerabilities" in out


def test_a_stale_acceptance_is_pointed_out(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = _run(tmp_path, db_dir, "example-lib==2.0\n", "--ignore", "A-1")

    assert status == 0
    assert "--ignore A-1 matched nothing" in capsys.readouterr().out


def test_the_project_itself_can_be_skipped(tmp_path: Path, db_dir: Path) -> None:
    assert (
        _run(tmp_path, db_dir, "example-lib==0.1\npipeserve @ file:///src\n", "--skip", "pipeserve")
        == 0
    )


@pytest.mark.parametrize(
    ("lock", "reason"),
    [
        ("example-lib>=1.0\n", "not an exact pin"),
        ("# only comments\n\n", "pins no packages"),
        ("-e .\n", "pip option"),
        ("not a requirement!!\n", "cannot parse"),
    ],
)
def test_a_lock_that_cannot_be_audited_fails_instead_of_passing(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str], lock: str, reason: str
) -> None:
    assert _run(tmp_path, db_dir, lock) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["pypa-advisory-db.jsonl", "pyup-safety-db-insecure.json"])
def test_a_missing_database_fails_instead_of_passing(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str], missing: str
) -> None:
    (db_dir / missing).unlink()

    assert _run(tmp_path, db_dir, "example-lib==0.1\n") == 2
    assert missing in capsys.readouterr().err


def test_an_empty_database_fails_instead_of_passing(
    tmp_path: Path, db_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (db_dir / "pypa-advisory-db.jsonl").write_text("\n", encoding="utf-8")

    assert _run(tmp_path, db_dir, "example-lib==0.1\n") == 2
    assert "no PyPI advisories" in capsys.readouterr().err


@pytest.fixture
def shared_db() -> Path:
    if not SHARED_DB.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_DB} is missing; CI must run beside ../shared")
        pytest.skip(f"{SHARED_DB} is not beside this checkout")
    return SHARED_DB


def test_the_real_databases_flag_known_vulnerable_releases(
    tmp_path: Path, shared_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Flask 2.2.4 leaks session cookies through caching proxies (CVE-2023-30861, fixed in 2.2.5).
    status = _run(tmp_path, shared_db, "flask==2.2.4\nwerkzeug==3.1.6\n")

    out = capsys.readouterr().out
    assert status == 1
    assert "flask==2.2.4" in out
    assert "CVE-2023-30861" in out
    assert "VULNERABLE werkzeug" not in out  # 3.1.6 is past every listed range
