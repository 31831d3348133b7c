"""Why a run failed: its own input (it would fail again) or the machine (it may pass when run again).

A run depends only on its scenario, parameters and seed, so a run that raised from its input raises again: it is
stored as failed and never retried. A run that failed because the machine ran out of something (memory, disk space,
open files) or lost the worker running it may pass later: it is stored as *retryable* and ``--resume`` runs it again.
"""

from __future__ import annotations

import errno

from twinsim.errors import TwinsimError

__all__ = [
    "RESOURCE_ERRNOS",
    "SchedulerLostError",
    "WorkerLostError",
    "environment_failure",
    "lost_worker",
    "retryable",
]

#: ``errno`` values of an ``OSError`` that the machine, not the run's input, caused.
RESOURCE_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "ENOMEM", "EIO", "EAGAIN", "EMFILE", "ENFILE", "EBUSY", "ETIMEDOUT", "ESTALE")
    if hasattr(errno, name)
)


class WorkerLostError(TwinsimError):
    """A worker process (or a cluster's worker) ended while running a chunk: its runs were not computed."""


class SchedulerLostError(TwinsimError):
    """The Dask scheduler went away during a run: the runs in flight were not computed."""


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


#: What to say, and to do, for a failure of the machine rather than of twinsim or the input (``errno`` -> words).
_ENVIRONMENT = {
    errno.ENOSPC: ("no space left on the disk", "free some space, or write --out and --store elsewhere"),
    errno.EDQUOT: ("the disk quota is used up", "free some space, or write --out and --store elsewhere"),
    errno.ENOMEM: ("out of memory", "run fewer --replicates or --workers, or a smaller network"),
    errno.EACCES: ("permission denied", "choose a folder you may write to"),
    errno.EROFS: ("the file system is read-only", "choose a writable folder"),
    errno.ELOOP: ("a loop of symbolic links", "fix the link"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) or use fewer --workers"),
    errno.EIO: ("an input/output error of the disk", "check the disk and run again (--resume keeps finished runs)"),
}


def environment_failure(exc: BaseException) -> str | None:
    """One line for a failure of the machine (memory, disk, permissions, a lost scheduler), or None.

    Such a failure is not a bug in twinsim and not a mistake in the input: the command says what ran out and what to
    do, and exits 2.
    """
    if isinstance(exc, MemoryError):
        return "out of memory: run fewer --replicates or --workers, or a smaller network (--resume keeps finished runs)"
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT:
        what, todo = _ENVIRONMENT[exc.errno]
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{what}{where}: {todo}"
    if lost_worker(exc) or type(exc).__name__ in {"CommClosedError", "StreamClosedError"}:
        return "the Dask scheduler or its workers were lost: check the cluster and run again with --resume"
    return None
