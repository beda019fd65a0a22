"""Helpers for tests that start real processes."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_environment() -> dict[str, str]:
    """The environment with this interpreter's scripts (pipeserve, dvc, gunicorn) first on PATH
    and no PIPESERVE_* settings leaking in from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPESERVE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def venv_env() -> dict[str, str]:
    return venv_environment()
