"""The server harness the integration tests, the benchmark and the soak share, against a real
(tiny) server process: a master that forks one worker and answers /readyz."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import harness

pytestmark = pytest.mark.integration

# argv: port, then "stubborn" (master and worker ignore SIGTERM) or "graceful" (the master
# stops its worker and exits 0). Anything else: print to stderr and exit 3 before listening.
SERVER = """
import http.server, os, signal, sys, time

port, mode = int(sys.argv[1]), sys.argv[2]
if mode not in {"stubborn", "graceful"}:
    print("refusing to start: no model directory", file=sys.stderr, flush=True)
    sys.exit(3)
if mode == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker = os.fork()
if worker == 0:
    while True:
        time.sleep(1)

def stop(*_):
    os.kill(worker, signal.SIGKILL)
    os.waitpid(worker, 0)
    os._exit(0)

if mode == "graceful":
    signal.signal(signal.SIGTERM, stop)

class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass

print("listening", flush=True)
http.server.HTTPServer(("127.0.0.1", port), Ready).serve_forever()
"""


def start(tmp_path: Path, mode: str) -> harness.Server:
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    port = harness.free_port()
    return harness.start(
        [sys.executable, str(script), str(port), mode],
        port=port,
        log_path=tmp_path / "server.log",
        env=harness.venv_environment(),
        label="tiny server",
    )


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for a parent that does not reap it, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_the_environment_keeps_only_the_settings_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPESERVE_MODEL_DIR", "/from/the/shell")
    monkeypatch.setenv("OTHER", "kept")

    env = harness.venv_environment(harness.pipeserve_settings({"workers": "2"}))

    assert {k: v for k, v in env.items() if k.startswith("PIPESERVE_")} == {
        "PIPESERVE_WORKERS": "2"
    }
    assert env["OTHER"] == "kept"
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_a_server_that_exits_at_start_fails_with_its_log(tmp_path: Path) -> None:
    server = start(tmp_path, "broken")

    with pytest.raises(harness.ServerError) as raised, harness.running(server):
        pass

    assert "tiny server exited with 3" in str(raised.value)
    assert "no model directory" in str(raised.value)


def test_readiness_is_awaited_and_a_graceful_stop_returns_the_exit_status(
    tmp_path: Path,
) -> None:
    with harness.running(start(tmp_path, "graceful"), ready_timeout_s=30) as server:
        workers = server.worker_pids()

    assert server.ready_s is not None
    assert len(workers) == 1
    assert server.pid not in workers
    assert server.returncode == 0
    assert "listening" in server.log_text()
    assert not any(alive(pid) for pid in workers)


def test_a_server_deaf_to_sigterm_is_killed_with_its_worker_after_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "WORKER_EXIT_S", 0.2)
    server = start(tmp_path, "stubborn")
    with harness.running(server, ready_timeout_s=30, grace_s=0.5):
        workers = server.worker_pids()
        assert server.worker_rss_kib().keys() == workers
        assert all(kib > 0 for kib in server.worker_rss_kib().values())

    assert server.returncode == -9
    assert workers
    assert not any(alive(pid) for pid in workers)


def test_a_server_not_ready_in_time_is_stopped_and_the_error_says_so(tmp_path: Path) -> None:
    server = start(tmp_path, "graceful")

    with (
        pytest.raises(harness.ServerError, match=r"/nowhere did not answer 200 within 0\.5 s"),
        harness.running(server, ready_path="/nowhere", ready_timeout_s=0.5),
    ):
        pass

    assert server.process.poll() is not None  # stopped, whichever way it ended
