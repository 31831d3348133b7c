"""Settings of a process that exists to run simulations: a ``twinsim`` command or one of its local workers.

Two costs that have nothing to do with the model dominate a short command once the model is fast:

- **The garbage collector** re-scans every object start-up created (the scenario schema, the command line) each
  time the runs' allocations trigger a full collection. :func:`gc.freeze` moves them out of its view; they live
  until the process ends anyway.
- **The C allocator** (glibc) serves an array above its *mmap threshold* with a fresh memory mapping and unmaps it
  when freed, so every temporary array of a month's step (a few hundred KiB to a few MiB) costs a page fault per
  4 KiB page. glibc raises the threshold by itself after the first such array, but trims the heap top whenever
  2 x that much is free, so the mappings come back (about 47,000 page faults in a 1,000-replicate Rwanda run).
  Fixed thresholds keep freed memory in the heap for the next month: 15,700 page faults, 0.06 s less, the same
  peak memory (85 MB). ``mallopt`` exists only in glibc; elsewhere nothing changes.

The engine fixes the allocator's thresholds when it first runs (:func:`tune_allocator`, in any process: they are
values glibc's own heuristic reaches, 8 MiB of its 32 MiB maximum, only no longer lowered again); a command and
its local workers also freeze their start-up objects (:func:`tune_for_runs`). Nothing changes on import.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_allocator", "tune_for_runs"]

#: Arrays below this size come from the heap, not from their own memory mapping (glibc ``M_MMAP_THRESHOLD``).
MMAP_THRESHOLD = 8 << 20

#: Free memory at the top of the heap kept for the next allocations before it is returned (``M_TRIM_THRESHOLD``).
TRIM_THRESHOLD = 32 << 20

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


_tuned = [False]


def tune_for_runs() -> None:
    """Freeze the objects start-up created out of the garbage collector's view, and fix glibc's thresholds."""
    gc.freeze()
    tune_allocator()


def tune_allocator() -> None:
    """Fix glibc's mmap and trim thresholds (:data:`MMAP_THRESHOLD`, :data:`TRIM_THRESHOLD`), once per process."""
    if _tuned[0] or not sys.platform.startswith("linux"):
        return
    _tuned[0] = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
