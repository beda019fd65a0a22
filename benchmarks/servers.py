"""The servers under test: how each is started, when it is ready, what its workers weigh, and
how it is stopped (by the PIDs this module started, never by name).

Every server binds a free port on 127.0.0.1 and runs 2 worker processes: ``pipeserve serve``
with the settings ``make serve`` ships (granian), the plain apps on granian with the same
numbers, the seed design on Gunicorn's sync workers, FastAPI on uvicorn, and MLServer (its own
environment, ``.venv-mlserver``) with its defaults.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

WORKERS = 2
THREADS = 4
TIMEOUT_S = 30
GRACEFUL_TIMEOUT_S = 20
LOOPBACK = "127.0.0.1"
VENV_BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """A server did not start, answer or stop as expected."""


@dataclass(frozen=True)
class ServerSpec:
    """One server configuration in the table.

    ``unavailable`` says why it cannot run here (a setting or a package missing); such a row is
    reported as unavailable, never measured with something else in its place.
    """

    name: str
    label: str
    app: Literal["pipeserve", "seed", "fastapi", "minimal", "hello", "mlserver"]
    server: Literal["pipeserve", "granian", "gunicorn-sync", "uvicorn", "mlserver"]
    predict_path: str
    batches: tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)
    unavailable: str | None = None


@dataclass
class RunningServer:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    base: str
    ready_s: float
    log_path: Path
    # pid -> start time (clock ticks after boot): identifies our worker even if the pid is reused.
    seen_workers: dict[int, int] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    def worker_pids(self) -> list[int]:
        """The master's worker processes (its direct children, minus multiprocessing helpers)."""
        pids = [
            pid for pid in children(self.process.pid) if "resource_tracker" not in _cmdline(pid)
        ]
        for pid in pids:
            started = _start_time(pid)
            if started is not None:
                self.seen_workers.setdefault(pid, started)
        return pids

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker, in MiB (VmRSS from /proc)."""
        return [rss_mb(pid) for pid in self.worker_pids()]

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None when the process is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22, starttime


def children(pid: int) -> list[int]:
    """Live PIDs whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z" and int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MiB (0 when the process is gone)."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _environment(extra: dict[str, str]) -> dict[str, str]:
    # No PIPESERVE_* from the caller's shell: each server gets exactly the settings listed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPESERVE_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


MLSERVER_BIN = VENV_BIN.parent.parent / ".venv-mlserver" / "bin"
TARGETS = {
    "pipeserve": "pipeserve.api:create_app",
    "seed": "benchmarks.seed_app:create_app",
    "fastapi": "benchmarks.fastapi_app:create_app",
    "minimal": "benchmarks.minimal_app:create_app",
    "hello": "benchmarks.hello_app:create_app",
}


def command(
    spec: ServerSpec, port: int, root: Path, bundle: Path
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start ``spec`` on ``port``."""
    env = {
        "BENCH_BUNDLE": str(bundle),
        "BENCH_TRAIN_CSV": str(root / "data" / "prepared" / "train.csv"),
    }
    target = TARGETS.get(spec.app, "")
    if spec.server == "pipeserve":
        # The production command with the settings `make serve` ships; only where and what.
        env.update(
            PIPESERVE_HOST=LOOPBACK,
            PIPESERVE_PORT=str(port),
            PIPESERVE_WORKERS=str(WORKERS),
            PIPESERVE_MODEL_PATHS=str(bundle),
        )
        argv = [str(VENV_BIN / "pipeserve"), "serve"]
    elif spec.server == "granian":
        argv = [
            str(VENV_BIN / "granian"),
            "--interface=wsgi",
            "--http=1",
            "--no-ws",
            f"--host={LOOPBACK}",
            f"--port={port}",
            f"--workers={WORKERS}",
            f"--blocking-threads={THREADS}",
            f"--working-dir={root}",
            "--factory",
            target,
        ]
    elif spec.server == "gunicorn-sync":
        argv = [
            str(VENV_BIN / "gunicorn"),
            f"--bind={LOOPBACK}:{port}",
            f"--workers={WORKERS}",
            "--worker-tmp-dir=/dev/shm",
            "--no-control-socket",
            f"--chdir={root}",
            f"{target}()",
        ]
    elif spec.server == "uvicorn":
        argv = [
            str(VENV_BIN / "uvicorn"),
            f"--host={LOOPBACK}",
            f"--port={port}",
            f"--workers={WORKERS}",
            "--no-access-log",
            "--factory",
            target,
        ]
    else:
        env["MLSERVER_HTTP_PORT"] = str(port)
        env["MLSERVER_GRPC_PORT"] = str(free_port())
        env["MLSERVER_METRICS_PORT"] = str(free_port())
        argv = [str(MLSERVER_BIN / "mlserver"), "start", str(root / "build" / "mlserver")]
    return argv, _environment({**env, **spec.env})


def _ready(base: str, path: str = "/readyz") -> bool:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=1) as response:  # noqa: S310  # nosec B310
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def running(
    spec: ServerSpec, *, root: Path, bundle: Path, log_dir: Path, ready_timeout_s: float = 60
) -> Iterator[RunningServer]:
    """Start ``spec``, yield it once /readyz answers 200, then stop it: SIGTERM to the master,
    SIGKILL if it has not exited after the graceful timeout, and SIGKILL to any of its workers
    still alive after that.

    ``ready_s`` is the time from spawning the master to the first 200 from /readyz (the workers
    start in parallel, so this is also each worker's start-to-ready time, within polling).
    Raises :class:`ServerError` (with the log's tail) when it exits or is not ready in time.
    """
    port = free_port()
    argv, env = command(spec, port, root, bundle)
    log_path = log_dir / f"{spec.name}.log"
    base = f"http://{LOOPBACK}:{port}"
    with log_path.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=root, stdout=log, stderr=log)
        server = RunningServer(spec, process, base, 0.0, log_path)
        try:
            ready_path = "/v2/health/ready" if spec.server == "mlserver" else "/readyz"
            while not _ready(base, ready_path):
                if process.poll() is not None:
                    raise ServerError(
                        f"{spec.label} exited with {process.returncode}:\n{server.log_tail()}"
                    )
                if time.monotonic() - started > ready_timeout_s:
                    raise ServerError(
                        f"{spec.label} not ready after {ready_timeout_s} s:\n{server.log_tail()}"
                    )
                time.sleep(0.02)
            server.ready_s = time.monotonic() - started
            server.worker_pids()
            yield server
        finally:
            server.worker_pids()
            _stop(process, server.seen_workers)


def _stop(process: subprocess.Popen[bytes], workers: dict[int, int]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=GRACEFUL_TIMEOUT_S + 10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 5
    for pid, started in sorted(workers.items()):
        # Only processes seen as this master's workers; one that outlived it gets SIGKILL.
        while _still_running(pid, started) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _still_running(pid, started):
            os.kill(pid, signal.SIGKILL)


def _still_running(pid: int, started: int) -> bool:
    """Whether the worker we saw is still alive (same pid and same start time: not another
    process that reused the number)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == started
