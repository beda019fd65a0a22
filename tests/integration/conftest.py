"""Helpers for tests that start real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_environment() -> dict[str, str]:
    """The environment with this interpreter's scripts (pipeserve, dvc, flask) first on PATH
    and no PIPESERVE_* settings leaking in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPESERVE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def venv_env() -> dict[str, str]:
    return venv_environment()


def wait_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    # Generous: each worker loads and verifies every model, slowly on a busy 2-core machine.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass  # not listening yet, or a busy machine: ask again
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


@dataclass(frozen=True)
class ServerProcess:
    base: str
    pid: int


def start_server(log: Path, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `pipeserve serve` (which becomes the server's master) on a free loopback port with
    ``PIPESERVE_<KEY>`` settings, its output going to ``log``; return it and its base URL."""
    port = free_port()
    env = {
        **venv_environment(),
        "PIPESERVE_PORT": str(port),
        "PIPESERVE_WORKERS": "2",
        **{f"PIPESERVE_{key.upper()}": value for key, value in settings.items()},
    }
    with log.open("wb") as out:
        process = subprocess.Popen(["pipeserve", "serve"], env=env, stdout=out, stderr=out)
    return process, f"http://127.0.0.1:{port}"


def stop_server(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM the server this test started (if still running), wait, and return its exit
    status; SIGKILL it if it did not stop within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode


def worker_pids(master: int) -> set[int]:
    """The server master's child processes: its workers."""
    children: set[int] = set()
    for task in Path(f"/proc/{master}/task").iterdir():
        try:
            listed = (task / "children").read_text()
        except FileNotFoundError:  # the thread ended meanwhile (its children pass to another)
            continue
        children.update(int(pid) for pid in listed.split())
    return children


@contextmanager
def running_server(log_path: Path, **settings: str) -> Iterator[ServerProcess]:
    """Run `pipeserve serve` on a free loopback port with ``PIPESERVE_<KEY>``
    settings; yield its URL and (master) pid once ready; stop it with SIGTERM and check it
    exited cleanly."""
    process, base = start_server(log_path, **settings)
    try:
        wait_ready(base, process)
        yield ServerProcess(base, process.pid)
    finally:
        returncode = stop_server(process)
    assert returncode == 0, log_path.read_text()
