"""Why a run failed: its own input (it would fail again) or the machine (it may pass when run again).

A run depends only on its scenario, parameters and seed, so a run that raised from its input raises again: it is
stored as failed and never retried. A run that failed because the machine ran out of something (memory, disk space,
open files) or lost the worker running it may pass later: it is stored as *retryable* and ``--resume`` runs it again.
"""

from __future__ import annotations

import errno

from twinsim.errors import TwinsimError

__all__ = ["RESOURCE_ERRNOS", "WorkerLostError", "lost_worker", "retryable"]

#: ``errno`` values of an ``OSError`` that the machine, not the run's input, caused.
RESOURCE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "ENOMEM", "EIO", "EAGAIN", "EMFILE", "ENFILE", "EBUSY", "ETIMEDOUT", "ESTALE")
    if hasattr(errno, name)
)


class WorkerLostError(TwinsimError):
    """A worker process (or a cluster's worker) ended while running a chunk: its runs were not computed."""


def retryable(exc: BaseException) -> bool:
    """Whether a run that raised ``exc`` may pass when run again: the machine ran out of something.

    ``MemoryError`` and the ``OSError`` of a full disk, a quota, an I/O error or too many open files are resource
    failures (retried by ``--resume``); every other exception is the run's own (it would fail again).
    """
    if isinstance(exc, MemoryError):
        return True
    return isinstance(exc, OSError) and (exc.errno in RESOURCE_ERRNOS or (type(exc) is OSError and exc.errno is None))


def lost_worker(exc: BaseException) -> bool:
    """Whether ``exc``, raised by an executor for a whole task, means its worker was lost (killed, out of memory)."""
    from concurrent.futures import BrokenExecutor

    return isinstance(exc, BrokenExecutor) or type(exc).__name__ in {"KilledWorker", "CommClosedError"}
