"""Rolling out a new model version under load drops no request (real server, 2 workers)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from benchmarks.harness import worker_pids
from tests.conftest import copy_bundle
from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
CLIENTS = 4


class Load:
    """Clients posting predictions until stopped; counts outcomes and answering versions."""

    def __init__(self, base: str) -> None:
        self.url = f"{base}/api/v1/models/iris/predict"
        self.outcomes: Counter[str] = Counter()
        self.versions: Counter[str] = Counter()
        self.latest_version = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _client(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    # Generous: during a restart requests queue while new workers load models.
                    response = session.post(self.url, json={"instances": [SETOSA]}, timeout=60)
                    outcome = str(response.status_code)
                    version = response.headers.get("X-Model-Version", "")
                except requests.RequestException as error:
                    outcome, version = type(error).__name__, ""
                with self._lock:
                    self.outcomes[outcome] += 1
                    if version:
                        self.versions[version] += 1
                        self.latest_version = version

    @contextmanager
    def running(self) -> Iterator[Load]:
        threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=30)

    def wait_for_version(self, version: str, seconds: float = 90) -> None:
        # Generous: on SIGHUP each new worker loads its models before the old one stops.
        deadline = time.monotonic() + seconds
        while self.latest_version != version and time.monotonic() < deadline:
            time.sleep(0.05)


def _publish(source: Path, repository: Path, version: str) -> None:
    """Copy a bundle in the way the README asks: into a dot-directory, then rename."""
    staging = repository / "iris" / f".{version}-staging"
    copy_bundle(source, staging, version)
    staging.rename(repository / "iris" / version)


@pytest.fixture
def repository(tmp_path: Path, session_bundle: Path) -> Path:
    copy_bundle(session_bundle, tmp_path / "models" / "iris" / "1", "1")
    return tmp_path / "models"


def test_the_watcher_switches_versions_without_a_failed_request(
    repository: Path, session_bundle: Path, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with running_server(log, model_dir=str(repository), reload_interval="0.2") as server:
        load = Load(server.base)
        with load.running():
            time.sleep(0.5)
            _publish(session_bundle, repository, "2")
            load.wait_for_version("2")
            time.sleep(0.5)

    assert set(load.outcomes) == {"200"}, load.outcomes
    assert load.versions["1"] > 0
    assert load.latest_version == "2"


def test_sighup_replaces_the_workers_without_a_failed_request(
    repository: Path, session_bundle: Path, tmp_path: Path
) -> None:
    with running_server(tmp_path / "server.log", model_dir=str(repository)) as server:
        load = Load(server.base)
        with load.running():
            time.sleep(0.5)
            _publish(session_bundle, repository, "2")
            old_workers = worker_pids(server.pid)
            os.kill(server.pid, signal.SIGHUP)
            load.wait_for_version("2")
            # Workers are replaced one at a time: wait until no old one is left.
            deadline = time.monotonic() + 90
            while worker_pids(server.pid) & old_workers and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)

    assert set(load.outcomes) == {"200"}, load.outcomes
    assert load.latest_version == "2"
