"""Idle, stalled and slow clients against the real server (`pipeserve serve`, 2 workers): they
must not keep /healthz or a prediction from being answered, and a client that dribbles its
headers is cut off by the header timeout."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from benchmarks.hostile import IDLE, STALLED, hold_hostile, probe_latency
from tests.integration.conftest import running_server

pytestmark = pytest.mark.integration

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
BOUND_MS = 1000  # generous on a busy 2-core machine; the benchmark holds the 100 ms target


def _address(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return str(parts.hostname), int(parts.port or 80)


def test_idle_sockets_and_stalled_uploads_do_not_delay_health_or_predictions(
    model_dir: Path, tmp_path: Path
) -> None:
    body = json.dumps({"instances": [SETOSA]}).encode()
    with running_server(tmp_path / "server.log", model_dir=str(model_dir)) as server:
        host, port = _address(server.base)
        with hold_hostile(host, port, idle=IDLE, stalled=STALLED) as held:
            probes = probe_latency(
                host,
                port,
                predict_path="/api/v1/models/iris/predict",
                predict_body=body,
                count=5,
                timeout=5,
            )
            # The held connections are still open (not refused or dropped to make room).
            assert len(held) == IDLE + STALLED

    for probe in probes:
        assert probe.failures == 0, probe
        assert probe.max_ms < BOUND_MS, probe


def test_a_client_dribbling_its_headers_is_closed_by_the_header_timeout(
    model_dir: Path, tmp_path: Path
) -> None:
    with running_server(
        tmp_path / "server.log", model_dir=str(model_dir), header_timeout="2"
    ) as server:
        host, port = _address(server.base)
        with socket.create_connection((host, port), timeout=10) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            closed_after = None
            # One header byte every 0.2 s: a slowloris client that never finishes.
            for _ in range(100):
                try:
                    sock.sendall(b"X")
                    sock.settimeout(0.2)
                    if sock.recv(4096) == b"":
                        closed_after = time.monotonic() - started
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed_after = time.monotonic() - started
                    break

    assert closed_after is not None, "the connection stayed open for 20 s"
    assert 1.5 < closed_after < 6, closed_after
