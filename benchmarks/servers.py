"""The servers under test: how each row of the benchmark's table is started (argv and
environment), on the harness (:mod:`benchmarks.harness`) that waits for it, weighs its workers
and stops it by the PIDs it started, never by name.

Every server binds a free port on 127.0.0.1 and runs 2 worker processes: ``pipeserve serve``
with the settings ``make serve`` ships (granian), the plain apps on granian with the same
numbers (as many blocking threads as pipeserve gives granian, ``PIPESERVE_IO_THREADS``), the
seed design on Gunicorn's sync workers, FastAPI on uvicorn, and MLServer (its own environment,
``.venv-mlserver``) with its defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from benchmarks import harness
from benchmarks.harness import LOOPBACK, VENV_BIN, ServerError
from pipeserve.settings import Settings

__all__ = [
    "MLSERVER_BIN",
    "THREADS",
    "WORKERS",
    "RunningServer",
    "ServerError",
    "ServerSpec",
    "command",
    "running",
]

WORKERS = 2
# granian's blocking threads for the plain apps: what pipeserve's server runs with, so that
# "on the same server" means the same server settings (granian's own default is more: 256).
THREADS: int = Settings.model_fields["io_threads"].default


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
    threads: int = 0
    """granian's blocking threads for a plain app (0: :data:`THREADS`)."""


@dataclass(frozen=True)
class RunningServer:
    """One row's server, ready: its spec and the harness's process."""

    spec: ServerSpec
    process: harness.Server

    @property
    def base(self) -> str:
        return self.process.base

    @property
    def ready_s(self) -> float:
        """Spawning the master to the first 200 from its readiness path (the workers start in
        parallel, so this is also each worker's start-to-ready time, within polling)."""
        return self.process.ready_s or 0.0

    def url(self, path: str) -> str:
        return self.process.url(path)

    def worker_rss_mb(self) -> list[float]:
        """Resident memory of each worker, in MiB (VmRSS from /proc), by PID."""
        return [kib / 1024 for kib in self.process.worker_rss_kib().values()]


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
        env |= harness.pipeserve_settings(
            {
                "host": LOOPBACK,
                "port": str(port),
                "workers": str(WORKERS),
                "model_paths": str(bundle),
            }
        )
        argv = harness.pipeserve_command()
    elif spec.server == "granian":
        argv = [
            str(VENV_BIN / "granian"),
            "--interface=wsgi",
            "--http=1",
            "--no-ws",
            f"--host={LOOPBACK}",
            f"--port={port}",
            f"--workers={WORKERS}",
            f"--blocking-threads={spec.threads or THREADS}",
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
        env["MLSERVER_GRPC_PORT"] = str(harness.free_port())
        env["MLSERVER_METRICS_PORT"] = str(harness.free_port())
        argv = [str(MLSERVER_BIN / "mlserver"), "start", str(root / "build" / "mlserver")]
    return argv, harness.venv_environment({**env, **spec.env})


@contextmanager
def running(
    spec: ServerSpec, *, root: Path, bundle: Path, log_dir: Path, ready_timeout_s: float = 60
) -> Iterator[RunningServer]:
    """Start ``spec`` in ``root``, its output in ``log_dir/<name>.log``; yield it once its
    readiness path answers 200 (``/readyz``, MLServer's ``/v2/health/ready``); then stop it
    (:meth:`benchmarks.harness.Server.stop`). Raises :class:`ServerError` (with the log's
    tail) when it exits or is not ready in time."""
    port = harness.free_port()
    argv, env = command(spec, port, root, bundle)
    process = harness.start(
        argv, port=port, log_path=log_dir / f"{spec.name}.log", env=env, cwd=root, label=spec.label
    )
    ready_path = "/v2/health/ready" if spec.server == "mlserver" else "/readyz"
    with harness.running(process, ready_path=ready_path, ready_timeout_s=ready_timeout_s):
        yield RunningServer(spec, process)
