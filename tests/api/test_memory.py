"""A worker gives the memory its requests freed back to the system."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeserve.api import memory

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or memory._glibc() is None, reason="glibc only"
)

CHUNK = 4096  # above pymalloc's 512 bytes and below glibc's mmap threshold: heap memory
MIB = 1024 * 1024


def resident_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


def test_memory_freed_inside_the_heap_goes_back_to_the_system() -> None:
    chunks = [bytearray(CHUNK) for _ in range(64 * MIB // CHUNK)]
    pinned = chunks[-1]  # the heap's top stays in use: free() alone cannot shrink it
    grown = resident_mib()
    del chunks[:-1]
    after_free = resident_mib()

    assert memory.return_freed_memory() is True
    after_trim = resident_mib()

    assert grown - after_free < 16, "free() gave the memory back by itself: nothing to test"
    assert after_free - after_trim > 48
    assert len(pinned) == CHUNK


def test_a_worker_s_trimming_thread_gives_it_back_within_its_interval() -> None:
    stop = threading.Event()
    thread = memory.start_returning_freed_memory(interval=0.05, stop=stop)
    assert thread is not None
    assert thread.daemon
    try:
        chunks = [bytearray(CHUNK) for _ in range(64 * MIB // CHUNK)]
        pinned = chunks[-1]
        grown = resident_mib()
        del chunks[:-1]
        deadline = time.monotonic() + 5
        while resident_mib() > grown - 48 and time.monotonic() < deadline:
            time.sleep(0.02)

        assert resident_mib() <= grown - 48
        assert len(pinned) == CHUNK
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
