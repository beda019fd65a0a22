"""Gunicorn configuration, taken from the ``PIPESERVE_*`` settings.

Use: ``gunicorn -c python:pipeserve.api.gunicorn_conf 'pipeserve.api:create_app()'`` (what
``pipeserve serve``, the container image and the Kubernetes manifests run). A Gunicorn config is
read by importing it, so unlike the rest of the package this module reads settings at import.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from types import FrameType
from typing import Any

from pipeserve.settings import Settings

_settings = Settings()

# Prometheus multiprocess mode: prometheus-client picks its storage when first imported, so the
# directory is set here, in the master, before any worker imports the app. A fresh directory per
# server start, in memory where possible; an operator may set the variable to choose it.
_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OWN_METRICS_DIR = _METRICS_ENV not in os.environ
if _OWN_METRICS_DIR:
    os.environ[_METRICS_ENV] = tempfile.mkdtemp(
        prefix="pipeserve-metrics-",
        dir="/dev/shm" if os.path.isdir("/dev/shm") else None,  # noqa: S108  # nosec B108
    )

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
threads = _settings.threads
# gthread: a slow prediction does not block health checks on the same worker.
worker_class = "gthread"
timeout = _settings.timeout
graceful_timeout = _settings.graceful_timeout
keepalive = 5
# The heartbeat file must live on a writable filesystem; /dev/shm is one even when the root
# filesystem is read-only (as in the container).
# Only Gunicorn's heartbeat files go there, never data.
_SHM = "/dev/shm"  # noqa: S108  # nosec B108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# Application logs are JSON lines from pipeserve itself; Gunicorn's own go to stderr.
errorlog = "-"
loglevel = _settings.log_level.lower()
accesslog = None
# The process title in ps and top.
proc_name = "pipeserve"
# Gunicorn 24+ opens a management socket in $HOME by default: nothing here uses it, and in a
# container $HOME is read-only or shared. Off.
control_socket_disable = True


def child_exit(server: Any, worker: Any) -> None:
    """A dead worker's live gauges (requests in flight) must stop counting."""
    # Imported here: prometheus-client must not be imported before the directory is chosen.
    from prometheus_client import multiprocess  # noqa: PLC0415

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ[_METRICS_ENV], ignore_errors=True)


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, turn /readyz to 503 before Gunicorn's own graceful exit starts, so that a
    load balancer still probing this worker's keep-alive connections stops sending to it."""
    # Imported here: the app (and prometheus-client) load in the workers, after the fork.
    from pipeserve.api.context import start_draining  # noqa: PLC0415

    graceful_exit = worker.handle_exit

    def drain_then_exit(signum: int, frame: FrameType | None) -> None:
        start_draining(worker.wsgi)
        graceful_exit(signum, frame)

    signal.signal(signal.SIGTERM, drain_then_exit)
