"""Hostile clients: connections that cost a thread-per-connection server its workers.

:func:`hold_hostile` opens ``idle`` TCP connections that send nothing and ``stalled`` uploads
that send a request's headers and half of its declared body, then stop. While they are held,
:func:`probe_latency` times fresh requests (``/healthz``, a predict) from another connection.
On a server that gives every connection a thread (Gunicorn's gthread worker) the held
connections take every thread, and the probes wait until the server's timeouts free one; on an
event-driven server they cost a file descriptor each.

Used by the benchmark (``make bench``), the soak and the integration tests; loopback only.
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

IDLE = 200
STALLED = 32
STALLED_BODY_BYTES = 4096


@contextmanager
def hold_hostile(
    host: str,
    port: int,
    *,
    idle: int = IDLE,
    stalled: int = STALLED,
    path: str = "/api/v1/models/iris/predict",
) -> Iterator[list[socket.socket]]:
    """Hold ``idle`` silent connections and ``stalled`` half-sent uploads to ``host:port`` open
    while the block runs; close them all afterwards. Yields the sockets."""
    half = b'{"instances": [' + b" " * (STALLED_BODY_BYTES // 2)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {STALLED_BODY_BYTES}\r\n\r\n"
    ).encode()
    with ExitStack() as stack:
        sockets: list[socket.socket] = []
        for number in range(idle + stalled):
            sock = stack.enter_context(socket.create_connection((host, port), timeout=5))
            if number >= idle:
                sock.sendall(head + half)
            sockets.append(sock)
        # Let the server accept them all (and dispatch the uploads to the app) before probing.
        time.sleep(0.3)
        yield sockets


@dataclass(frozen=True)
class Probe:
    """Latencies of one kind of request, in milliseconds; ``failures`` counts requests that got
    no 200 within the timeout."""

    name: str
    latencies_ms: list[float]
    failures: int

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("inf")

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else float("inf")


def request_once(
    host: str, port: int, method: str, path: str, *, body: bytes = b"", timeout: float = 5.0
) -> tuple[int, float]:
    """One request on a fresh connection: (status, milliseconds); status 0 when it failed."""
    started = time.perf_counter()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(head + body)
            answer = b""
            while b"\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return 0, (time.perf_counter() - started) * 1000
    elapsed = (time.perf_counter() - started) * 1000
    try:
        status = int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, elapsed


def probe_latency(
    host: str,
    port: int,
    *,
    predict_path: str,
    predict_body: bytes,
    count: int = 20,
    timeout: float = 5.0,
) -> list[Probe]:
    """``count`` sequential ``/healthz`` and predict requests, each on a new connection."""
    probes = []
    for name, method, path, body in (
        ("healthz", "GET", "/healthz", b""),
        ("predict", "POST", predict_path, predict_body),
    ):
        latencies, failures = [], 0
        for _ in range(count):
            status, elapsed = request_once(host, port, method, path, body=body, timeout=timeout)
            if status == 200:
                latencies.append(elapsed)
            else:
                failures += 1
        probes.append(Probe(name, latencies, failures))
    return probes
