"""The integration tests' server: `pipeserve serve` as the tests run it, on the shared harness
(:mod:`benchmarks.harness`: free loopback port, clean environment, readiness, workers, stop)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks.harness import Server, running, start_pipeserve, venv_environment

# Generous: each worker loads and verifies every model, slowly on a busy 2-core machine.
READY_TIMEOUT_S = 90


@pytest.fixture
def venv_env() -> dict[str, str]:
    return venv_environment()


def start_server(log: Path, **settings: str) -> Server:
    """Start `pipeserve serve` (2 workers unless ``workers`` is given) with ``PIPESERVE_<KEY>``
    settings, its output going to ``log``; not waited for."""
    return start_pipeserve(log, {"workers": "2", **settings})


@contextmanager
def running_server(log_path: Path, **settings: str) -> Iterator[Server]:
    """Run :func:`start_server` and yield it once ready; stop it with SIGTERM and check that it
    exited cleanly (0), with its log in the failure."""
    with running(start_server(log_path, **settings), ready_timeout_s=READY_TIMEOUT_S) as server:
        yield server
    assert server.returncode == 0, server.log_text()
