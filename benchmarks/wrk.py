"""wrk, the load generator: find (or install) it, script a POST, run one cell, read its result.

wrk's own text report rounds latencies to two digits and changes units; instead the Lua script's
``done`` hook prints one machine-readable line (prefix :data:`MARKER`) with exact microsecond
percentiles and every error counter, and :func:`parse_wrk_output` reads that line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MARKER = "BENCH_RESULT "

# A static request (no Lua `request` function), so wrk builds it once and sends it at full speed.
_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%BODY%]==]

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%MARKER%{\\"requests\\": %d, \\"duration_us\\": %d, \\"bytes\\": %d, " ..
    "\\"connect\\": %d, \\"read\\": %d, \\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, " ..
    "\\"p50_us\\": %d, \\"p90_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}\\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. ``non_2xx`` counts HTTP status >= 400 (wrk's "Non-2xx or 3xx responses");
    ``socket_errors`` sums connect, read, write and timeout errors."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "requests_per_s": self.requests_per_s, "errors": self.errors}


def parse_wrk_output(text: str) -> WrkResult:
    """Read the result line the benchmark's Lua ``done`` hook printed into wrk's stdout.

    Raises :class:`WrkError` when there is none (wrk failed before the end of the run).
    """
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise WrkError(f"wrk printed no result line; its output was:\n{text.strip()}")
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1e3,
        p90_ms=data["p90_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        max_ms=data["max_us"] / 1e3,
        non_2xx=int(data["status"]),
        socket_errors=sum(int(data[key]) for key in ("connect", "read", "write", "timeout")),
    )


def write_post_script(body: bytes, path: Path) -> Path:
    """Write a wrk Lua script that POSTs ``body`` as JSON and reports with :data:`MARKER`."""
    text = body.decode("utf-8")
    if "]==]" in text:
        raise ValueError("the body contains ']==]', which would end the Lua long string")
    path.write_text(_LUA.replace("%MARKER%", MARKER).replace("%BODY%", text), encoding="utf-8")
    return path


def ensure_wrk(*, install: bool) -> str:
    """Path of wrk; install Debian's package first if it is missing and ``install`` is set.

    Raises :class:`WrkError` with what to do when wrk is not there and cannot be installed.
    """
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if install and apt and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # A stale package list may not know wrk yet: update it only if the first try fails.
        for args in (["install", "-y", "wrk"], ["update"], ["install", "-y", "wrk"]):
            subprocess.run([apt, *args], env=env, check=False, capture_output=True, timeout=600)
            found = shutil.which("wrk")
            if found:
                return found
    raise WrkError(
        "wrk (the load generator) is not installed and the benchmark could not install it: "
        "install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) and run again"
    )


def wrk_version(wrk: str) -> str:
    """wrk's version line (wrk prints it with its usage and exits non-zero)."""
    completed = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    return (completed.stdout or completed.stderr).splitlines()[0].strip()


def run_wrk(
    wrk: str,
    url: str,
    script: Path,
    *,
    connections: int,
    duration_s: float,
    timeout_s: float = 5.0,
) -> WrkResult:
    """Load ``url`` with ``connections`` keep-alive connections for ``duration_s`` seconds.

    wrk runs with as many threads as this machine has cores, at most one per connection.
    Raises :class:`WrkError` when wrk fails.
    """
    threads = max(1, min(connections, os.cpu_count() or 1))
    command = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "--latency",
        f"--script={script}",
        url,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=duration_s + 60
    )
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout)
