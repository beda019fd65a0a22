"""The Gate in front of the app: body first, then a slot (in arrival order); probes never
wait; a request that runs too long is reported."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pipeserve.api.gate import FairSlots, Gate


class Stream(io.BytesIO):
    """A request body that records how much the app or the Gate read of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.read_bytes += len(chunk)
        return chunk


def _environ(path: str, body: bytes = b"", stream: io.BytesIO | None = None) -> dict[str, Any]:
    return {
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": stream if stream is not None else io.BytesIO(body),
    }


def _start_response(status: str, headers: list[tuple[str, str]]) -> None:
    return None


def _gate(app: Callable[..., Iterable[bytes]], **options: Any) -> Gate:
    settings = {"slots": 1, "max_body_bytes": 100, "timeout": 30, "on_timeout": print}
    return Gate(app, **{**settings, **options})


def test_a_declared_body_within_the_limit_is_read_before_the_app_runs() -> None:
    seen: list[bytes] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ["wsgi.input"].read())
        return [b"ok"]

    stream = Stream(b'{"instances": []}')
    environ = _environ("/predict", b'{"instances": []}', stream)

    assert _gate(app)(environ, _start_response) == [b"ok"]
    assert stream.read_bytes == len(b'{"instances": []}')
    assert seen == [b'{"instances": []}']


def test_a_body_over_the_limit_is_left_unread_for_the_app_to_refuse() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return [b"413"]

    stream = Stream(b"x" * 500)

    assert _gate(app)(_environ("/predict", b"x" * 500, stream), _start_response) == [b"413"]
    assert stream.read_bytes == 0


def test_probes_are_answered_while_every_slot_is_busy() -> None:
    release = threading.Event()
    finished: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            release.wait(10)
        finished.append(environ["PATH_INFO"])
        return [b"ok"]

    gate = _gate(app)
    slow = threading.Thread(target=gate, args=(_environ("/slow"), _start_response))
    slow.start()
    time.sleep(0.1)
    queued = threading.Thread(target=gate, args=(_environ("/predict"), _start_response))
    queued.start()
    gate(_environ("/healthz"), _start_response)
    time.sleep(0.1)
    before_release = list(finished)
    release.set()
    slow.join(5)
    queued.join(5)

    assert before_release == ["/healthz"]  # /predict waited for the one slot; /healthz did not
    assert finished == ["/healthz", "/slow", "/predict"]


def test_a_request_running_longer_than_the_timeout_is_reported() -> None:
    reported: list[float] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        time.sleep(0.6)
        return [b"late"]

    gate = _gate(app, timeout=0.2, tick=0.05, on_timeout=reported.append)
    gate(_environ("/predict"), _start_response)

    assert len(reported) == 1
    assert 0.2 < reported[0] < 0.6


def test_quick_requests_are_never_reported() -> None:
    reported: list[float] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        return [b"quick"]

    gate = _gate(app, timeout=0.2, tick=0.05, on_timeout=reported.append)
    for _ in range(5):
        gate(_environ("/predict"), _start_response)
        time.sleep(0.1)

    assert reported == []


def test_while_draining_every_answer_closes_its_connection() -> None:
    sent: list[list[tuple[str, str]]] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def record(status: str, headers: list[tuple[str, str]]) -> None:
        sent.append(headers)

    gate = _gate(app)
    gate(_environ("/predict"), record)
    gate.closing.set()
    gate(_environ("/predict"), record)

    assert ("Connection", "close") not in sent[0]
    assert ("Connection", "close") in sent[1]


def test_slots_go_to_waiting_requests_in_the_order_they_came() -> None:
    """A request never waits behind ones that arrived after it (no starved tail at c=64)."""
    slots = FairSlots(1)
    slots.acquire()
    order: list[int] = []

    def wait_for_a_slot(index: int) -> None:
        slots.acquire()
        order.append(index)
        slots.release()

    threads = []
    for index in range(6):
        thread = threading.Thread(target=wait_for_a_slot, args=(index,))
        thread.start()
        threads.append(thread)
        deadline = time.monotonic() + 5
        while slots.waiting < index + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
    slots.release()
    for thread in threads:
        thread.join(timeout=5)

    assert order == list(range(6))
    assert slots.waiting == 0
