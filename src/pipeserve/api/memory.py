"""glibc's allocator, tuned for a worker whose threads take turns under the GIL: two malloc
arenas, and the memory requests freed given back to the system every second.

Why: a worker's resident memory is what the kubelet's memory limit, the autoscaler and the
benchmark's RSS target see. glibc keeps what a program frees for its next allocations and
returns it only from the top of a heap, so a worker that once answered a burst of large
requests stays as large as that burst made it (tests/api/test_memory.py frees 64 MiB that only
the trim gives back). Measured on the iris worker after one-row and then 1000-row load: 122
against 115 MiB in one run, no difference in another, where what stayed was Python's own
object arenas. Both tunings are glibc's own (``mallopt``, ``malloc_trim``); on another C
library there is nothing to do.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
import threading

# glibc's mallopt parameter for the number of malloc arenas.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2
TRIM_INTERVAL_S = 1.0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl has neither: nothing to tune there.
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_arenas() -> None:
    """Two malloc arenas per worker, unless ``MALLOC_ARENA_MAX`` says otherwise.

    glibc gives threads that allocate at the same time arenas of their own, up to 8 per core,
    and each keeps the memory its requests freed: with dozens of threads taking requests, a
    worker grows by several MiB (measured: 116 against 124 MiB after a minute at 64
    connections) for no speed that a GIL-bound process could use. The environment variable is
    read when the master starts, before this fork; set here, it holds from now on."""
    libc = _glibc()
    if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def return_freed_memory() -> bool:
    """Give the pages free inside every arena back to the system (``malloc_trim(0)``), now.

    About 150 µs after a burst of large requests and 5 µs when there is nothing to give back;
    ctypes releases the GIL for the call. Returns whether glibc did it."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def start_returning_freed_memory(
    interval: float = TRIM_INTERVAL_S, stop: threading.Event | None = None
) -> threading.Thread | None:
    """A daemon thread calling :func:`return_freed_memory` every ``interval`` seconds until
    ``stop`` is set (a worker's never is); ``None`` where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return None
    trim = libc.malloc_trim
    stopped = stop or threading.Event()

    def run() -> None:
        while not stopped.wait(interval):
            trim(0)

    thread = threading.Thread(target=run, name="pipeserve-malloc-trim", daemon=True)
    thread.start()
    return thread
