"""Real server processes on 127.0.0.1, for the integration tests, the benchmark and the soak.

Everything a caller needs to run a server it can trust the numbers or the verdict of: a free
loopback port, an environment with no ``PIPESERVE_*`` leaking in from the caller's shell (only
the settings given), the process started with its output in a log file, readiness awaited for a
bounded time (the log's tail in the error when it does not come), its workers found and weighed
from ``/proc``, and a stop by PID only: SIGTERM to the master, SIGKILL after a bound, and SIGKILL
to any worker of ours that outlived it (recognised by PID and start time, never by name).

Standard library only, so that ``tests/`` can import it without the benchmark's dependencies
(wrk, aiohttp, pandas). Linux only: workers and memory come from ``/proc``.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"  # every server started here listens on loopback only
VENV_BIN = Path(sys.executable).parent
SETTINGS_PREFIX = "PIPESERVE_"
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 30.0
WORKER_EXIT_S = 5.0  # after the master is gone, how long its workers may take to follow
KILLED_EXIT_S = 5.0  # SIGKILL to the process gone from /proc (the kernel frees its memory)
PROBE_TIMEOUT_S = 2.0
POLL_S = 0.02
LOG_TAIL_LINES = 40
# multiprocessing's helper (MLServer's inference pool starts one): a child, not a worker.
HELPERS = ("resource_tracker",)


class ServerError(RuntimeError):
    """A server did not start, become ready or stop as expected (the message has its log)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the kernel's choice; bound and released)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def venv_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with this interpreter's scripts (pipeserve, dvc, granian) first
    on PATH and no ``PIPESERVE_*`` variable from the caller's shell, then ``extra`` on top: a
    server started with it sees exactly the settings given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **(extra or {})}


def pipeserve_settings(settings: Mapping[str, str]) -> dict[str, str]:
    """``{"model_dir": "m"}`` as the environment variables pipeserve reads
    (``{"PIPESERVE_MODEL_DIR": "m"}``)."""
    return {f"{SETTINGS_PREFIX}{key.upper()}": value for key, value in settings.items()}


# --- /proc ------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on, or None when the process is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    return stat[stat.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int | None:
    """Clock ticks after boot at which ``pid`` started (None when gone or a zombie): with the
    PID it names one process, even after the number is reused."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields and fields[0] != "Z" else None  # field 22, starttime


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def worker_pids(master: int) -> set[int]:
    """The live worker processes of ``master``: its children (from every thread's list), minus
    zombies and multiprocessing's helpers. Empty when the master is gone."""
    children: set[int] = set()
    try:
        tasks = list((Path("/proc") / str(master) / "task").iterdir())
    except OSError:
        return children
    for task in tasks:
        try:
            listed = (task / "children").read_text()
        except OSError:  # the thread ended meanwhile (its children pass to another)
            continue
        children.update(int(pid) for pid in listed.split())
    return {
        pid
        for pid in children
        if _start_time(pid) is not None and not any(h in _cmdline(pid) for h in HELPERS)
    }


def rss_kib(pid: int) -> int | None:
    """Resident memory of ``pid`` in KiB (VmRSS), or None when the process is gone."""
    try:
        status = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None  # a zombie has no memory left


# --- one server -------------------------------------------------------------------------------


@dataclass
class Server:
    """A server process this harness started (the master, when it forks workers)."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    label: str
    started: float  # time.monotonic() just before the process was spawned
    ready_s: float | None = None  # spawn to the first 200 from the readiness path
    # pid -> start time of every worker seen: only those are ever signalled after the master.
    seen_workers: dict[int, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def url(self, path: str) -> str:
        return self.base + path

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(
        self,
        *,
        path: str = "/readyz",
        timeout_s: float = READY_TIMEOUT_S,
        poll_s: float = POLL_S,
    ) -> float:
        """Wait until ``path`` answers 200; return (and keep as ``ready_s``) the seconds from
        spawning the process. Raises :class:`ServerError` with the log's tail if the process
        exits first or ``timeout_s`` passes."""
        deadline = self.started + timeout_s
        while not _answers_200(self.url(path), min(PROBE_TIMEOUT_S, timeout_s)):
            if self.process.poll() is not None:
                raise ServerError(
                    f"{self.label} exited with {self.process.returncode} before {path} answered "
                    f"200; its log ({self.log_path}) ends:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.label}: {path} did not answer 200 within {timeout_s:g} s; its log "
                    f"({self.log_path}) ends:\n{self.log_tail()}"
                )
            time.sleep(poll_s)
        self.ready_s = time.monotonic() - self.started
        self.worker_pids()
        return self.ready_s

    def worker_pids(self) -> set[int]:
        """The master's live workers now (see :func:`worker_pids`), remembered for :meth:`stop`."""
        pids = worker_pids(self.pid)
        for pid in pids:
            started = _start_time(pid)
            if started is not None:
                self.seen_workers.setdefault(pid, started)
        return pids

    def worker_rss_kib(self) -> dict[int, int]:
        """Resident memory of each live worker in KiB, by PID (one gone meanwhile is left out)."""
        found = {pid: rss_kib(pid) for pid in sorted(self.worker_pids())}
        return {pid: kib for pid, kib in found.items() if kib is not None}

    def stop(self, grace_s: float = STOP_GRACE_S) -> int:
        """SIGTERM the master (if still running) and wait up to ``grace_s``; SIGKILL it after
        that. Then give its workers :data:`WORKER_EXIT_S` to follow and SIGKILL any seen worker
        still alive (same PID and start time: never a process that reused the number). Returns
        the master's exit status (negative: the signal that ended it). Safe to call twice.
        Raises :class:`ServerError` if a worker is still there :data:`KILLED_EXIT_S` after
        SIGKILL."""
        self.worker_pids()
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass  # SIGKILL below
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + WORKER_EXIT_S
        for pid, started in sorted(self.seen_workers.items()):
            if not _gone(pid, started, deadline):
                with suppress(ProcessLookupError):  # it exited just now
                    os.kill(pid, signal.SIGKILL)
                # Not our child, so not ours to wait for: watch /proc until it has died.
                if not _gone(pid, started, time.monotonic() + KILLED_EXIT_S):
                    raise ServerError(f"{self.label}: worker {pid} survived SIGKILL")
        return self.process.returncode


def _gone(pid: int, started: int, deadline: float) -> bool:
    """Wait until the process ``pid`` that started at ``started`` has ended (or is a zombie),
    at most until ``deadline``; whether it has."""
    while _start_time(pid) == started:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _answers_200(url: str, timeout_s: float) -> bool:
    try:
        # Only ever this harness's own http://127.0.0.1 URLs.
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310  # nosec B310
            return bool(response.status == 200)
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError):
        return False  # not listening yet, not ready (503), or busy: ask again


def start(
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    label: str | None = None,
) -> Server:
    """Spawn ``argv`` (no shell) with exactly ``env``, its stdout and stderr both going to
    ``log_path`` (truncated); ``port`` is where the caller told it to listen."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdout=log, stderr=log)
    return Server(process, port, log_path, label or Path(argv[0]).name, started)


def pipeserve_command() -> list[str]:
    """``pipeserve serve`` from this interpreter's environment (it becomes the master)."""
    return [str(VENV_BIN / "pipeserve"), "serve"]


def start_pipeserve(
    log_path: Path,
    settings: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    label: str = "pipeserve serve",
) -> Server:
    """``pipeserve serve`` on a free port of 127.0.0.1 with ``PIPESERVE_<KEY>`` for each of
    ``settings`` (``{"workers": "2"}``); host and port are set here, nothing else is: the
    server's defaults hold for every setting not given. ``env`` adds other variables."""
    port = free_port()
    where = {"host": LOOPBACK, "port": str(port)}
    variables = venv_environment({**(env or {}), **pipeserve_settings({**settings, **where})})
    return start(
        pipeserve_command(), port=port, log_path=log_path, env=variables, cwd=cwd, label=label
    )


@contextmanager
def running(
    server: Server,
    *,
    ready_path: str = "/readyz",
    ready_timeout_s: float = READY_TIMEOUT_S,
    grace_s: float = STOP_GRACE_S,
) -> Iterator[Server]:
    """Yield ``server`` (just started) once it is ready; stop it afterwards, however the block
    ends, and whether or not it became ready. The exit status is ``server.returncode``."""
    try:
        server.wait_ready(path=ready_path, timeout_s=ready_timeout_s)
        yield server
    finally:
        server.stop(grace_s)
