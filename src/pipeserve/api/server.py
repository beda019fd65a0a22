"""The production server: granian's WSGI interface, configured from the ``PIPESERVE_*`` settings.

Why granian: its connection handling is event-driven (Rust, tokio and hyper), so an idle
keep-alive socket or a client dribbling its headers holds no Python thread; a header that takes
longer than ``header_timeout`` closes the connection. A WSGI app still reads its body
synchronously, so a stalled upload would hold the thread that reads it: :class:`Gate` reads the
body on one of ``io_threads`` threads (waiting in Rust, without the GIL) and only then lets the
request into one of ``threads`` slots that run Python. Probes (``/healthz``, ``/readyz``,
``/metrics``) never wait for a slot. The benchmark that chose granian over Gunicorn (gthread and
gevent workers) is in docs/reliability.md.

What this module adds to granian, each in one place:

- **Drain** (:func:`_with_pipeserve_hooks`): on SIGTERM the master writes a marker in the runtime
  directory;
  every worker's readiness turns 503 ``shutting_down`` (:func:`_watch_drain`) while the listener
  still accepts for ``drain_seconds``, then granian stops the workers gracefully (in-flight
  requests finish, up to ``graceful_timeout``).
- **Metrics across workers**: prometheus-client's multiprocess directory is chosen here, in the
  master, before any worker imports the client; a replaced worker's live gauges are retired.
- **Request timeout** (:class:`Gate`): a request that runs in the app longer than ``timeout``
  ends its worker (granian starts a new one), as Gunicorn's worker timeout did.

``pipeserve serve`` runs :func:`serve`; granian imports :func:`create_wsgi_app` in each worker.
Nothing here runs at import, and the master never imports the app (onnxruntime's threads do not
survive a fork).
"""

from __future__ import annotations

import gc
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeserve.api import memory
from pipeserve.api.gate import Gate
from pipeserve.api.wsgi import WSGIApp
from pipeserve.logs import flush_lines
from pipeserve.settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
DRAIN_MARKER = "draining"
TARGET = "pipeserve.api.server:create_wsgi_app"
# SIGHUP: a new worker loads its models, then (this long after) the old one it replaces stops.
RESPAWN_INTERVAL_S = 0.5
# SIGHUP: how long a replaced worker answers with `Connection: close` before it stops, so that
# keep-alive clients move to a new connection instead of racing the close.
RETIRE_S = 1.0
READY_TIMEOUT_S = 120.0
_SHM = Path("/dev/shm")  # noqa: S108  # nosec B108 - memory-backed and writable in the container


# --- the master -----------------------------------------------------------------------------


def serve(settings: Settings) -> None:
    """Run granian with ``settings`` in this process (which becomes the master) until SIGTERM
    or SIGINT; SIGHUP replaces the workers one by one. Returns when the server has stopped."""
    from granian.constants import HTTPModes, Interfaces, Loops  # noqa: PLC0415
    from granian.http import HTTP1Settings  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415

    runtime, own_runtime = _runtime_dir(settings)
    (runtime / DRAIN_MARKER).unlink(missing_ok=True)
    # Inherited by the workers: where they keep metrics, and where the drain marker appears.
    os.environ[ENV_PREFIX + "RUNTIME_DIR"] = str(runtime)
    if METRICS_ENV not in os.environ:
        metrics = runtime / "metrics"
        metrics.mkdir(exist_ok=True)
        os.environ[METRICS_ENV] = str(metrics)
    from granian.server import Server  # noqa: PLC0415

    server = _with_pipeserve_hooks(Server)(
        TARGET,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=settings.workers,
        # Threads that wait on request bodies (see Gate); granian starts them as needed.
        blocking_threads=settings.io_threads,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(
            header_read_timeout=settings.header_timeout * 1000, keep_alive=True
        ),
        websockets=False,
        loop=Loops.asyncio,
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,  # pipeserve writes its own JSON access log
        respawn_failed_workers=True,
        respawn_interval=RESPAWN_INTERVAL_S,
        # SIGTERM to exit within PIPESERVE_GRACEFUL_TIMEOUT, the drain included.
        workers_kill_timeout=max(1, settings.graceful_timeout - math.ceil(settings.drain_seconds)),
    )
    server.drain_marker = runtime / DRAIN_MARKER
    server.drain_seconds = settings.drain_seconds
    try:
        server.serve()
    finally:
        if own_runtime:
            shutil.rmtree(runtime, ignore_errors=True)


def _runtime_dir(settings: Settings) -> tuple[Path, bool]:
    """The directory the master shares with its workers; (path, whether we created it)."""
    if settings.runtime_dir is not None:
        settings.runtime_dir.mkdir(parents=True, exist_ok=True)
        return settings.runtime_dir, False
    parent = _SHM if _SHM.is_dir() and os.access(_SHM, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="pipeserve-", dir=parent)), True


def _with_pipeserve_hooks(base: type[Any]) -> type[Any]:
    """granian's multi-process server with pipeserve's drain and metrics hooks."""

    class Server(base):  # type: ignore[misc]
        drain_marker: Path
        drain_seconds: float = 0.0
        _draining = False

        def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
            """First SIGTERM: readiness 503 in every worker, keep serving ``drain_seconds``
            (a load balancer stops sending), then granian's graceful stop. A second one (or
            Ctrl-C twice) stops at once."""
            if self._draining or self.drain_seconds <= 0:
                self.drain_marker.touch()
                super().signal_handler_interrupt(*args, **kwargs)
                return
            self._draining = True
            self.drain_marker.touch()
            timer = threading.Timer(
                self.drain_seconds, super().signal_handler_interrupt, args, kwargs
            )
            timer.daemon = True
            timer.start()

        def _respawn_workers(self, workers: list[int], *args: Any, **kwargs: Any) -> Any:
            old = [self.wrks[idx]._id() for idx in workers if idx < len(self.wrks)]
            self._replaced = {idx: self.wrks[idx] for idx in workers if idx < len(self.wrks)}
            self._respawning = True
            try:
                return super()._respawn_workers(workers, *args, **kwargs)
            finally:
                self._respawning = False
                _retire_metrics(old)

        def _spawn_worker(self, *args: Any, **kwargs: Any) -> Any:
            worker = super()._spawn_worker(*args, **kwargs)
            if getattr(self, "_respawning", False):
                # A replacement: the worker it replaces is stopped only once this one serves
                # (SIGHUP), so that the workers never all stop at once; before it stops, it
                # closes each connection after its answer for RETIRE_S.
                start = worker.start
                replaced = self._replaced.get(kwargs.get("idx", -1))

                def start_and_wait() -> None:
                    start()
                    runtime = self.drain_marker.parent
                    _wait_until_serving(worker, runtime)
                    if replaced is not None and replaced.is_alive():
                        (runtime / f"retiring-{replaced._id()}").touch()
                        time.sleep(RETIRE_S)

                worker.start = start_and_wait
            return worker

    return Server


def _wait_until_serving(worker: Any, runtime: Path, seconds: float = READY_TIMEOUT_S) -> None:
    """Wait until ``worker`` has built its app (it writes ``ready-<pid>``), died, or
    ``seconds`` passed."""
    marker = runtime / f"ready-{worker._id()}"
    deadline = time.monotonic() + seconds
    while not marker.exists() and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    marker.unlink(missing_ok=True)


def _retire_metrics(pids: list[int]) -> None:
    """A dead worker's live gauges (requests in flight) must stop counting."""
    from prometheus_client import multiprocess  # noqa: PLC0415 - after the directory is chosen

    for pid in pids:
        if pid:
            multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


# --- a worker -------------------------------------------------------------------------------


def create_wsgi_app() -> WSGIApp:
    """What granian serves in each worker: pipeserve's app behind the :class:`Gate`."""
    from pipeserve.api import create_app  # noqa: PLC0415 - in the worker, after the fork

    memory.limit_arenas()
    settings = Settings()
    app = create_app(settings)
    gate = Gate(
        app.wsgi_app,
        slots=settings.threads,
        max_body_bytes=settings.max_body_bytes,
        timeout=settings.timeout,
        on_timeout=_end_worker,
    )
    app.wsgi_app = gate  # type: ignore[method-assign]
    # What start-up built (modules, models, schemas) lives as long as the worker: out of the
    # collector's sight, a full collection walks only what requests allocate, which keeps its
    # pauses (the slowest requests under load) short.
    gc.collect()
    gc.freeze()
    memory.start_returning_freed_memory()
    if settings.runtime_dir is not None:
        _watch_drain(app, gate, settings.runtime_dir / DRAIN_MARKER)
        # Tells the master (replacing workers on SIGHUP) that this one is about to serve.
        (settings.runtime_dir / f"ready-{os.getpid()}").touch()
    return app


def _watch_drain(app: Flask, gate: Gate, marker: Path, interval: float = 0.05) -> None:
    """Turn readiness to 503 and close connections after each answer once the master writes
    the drain marker (a stat every 50 ms)."""
    from pipeserve.api.context import start_draining  # noqa: PLC0415

    retiring = marker.parent / f"retiring-{os.getpid()}"
    # os.path on strings: a pathlib call costs several times the stat it makes, 40 times a second.
    marker_path, retiring_path = str(marker), str(retiring)

    def watch() -> None:
        while not os.path.exists(marker_path):
            if os.path.exists(retiring_path):  # replaced on SIGHUP: only this worker's clients
                gate.closing.set()
                retiring.unlink(missing_ok=True)
            time.sleep(interval)
        start_draining(app)
        gate.closing.set()

    threading.Thread(target=watch, name="pipeserve-drain", daemon=True).start()


def _end_worker(seconds: float) -> None:
    logger.critical(
        "a request has run for %.0f s, longer than PIPESERVE_TIMEOUT: replacing this worker",
        seconds,
    )
    flush_lines()
    logging.shutdown()
    sys.stderr.flush()
    os._exit(70)  # granian respawns a worker that exits unexpectedly
