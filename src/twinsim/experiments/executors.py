"""Executors: where the runs of an experiment execute, behind the ``concurrent.futures`` interface.

- :class:`Serial`: in this process, one run after another (the default of the Python API);
- :class:`LocalProcesses`: a ``ProcessPoolExecutor`` on this machine (default: all cores);
- :class:`DaskCluster`: Dask distributed through its own ``Client``, either an existing cluster
  (``scheduler="tcp://HOST:PORT"``) or a ``LocalCluster`` it starts on 127.0.0.1.

:func:`open_executor` also accepts ``None`` (serial), a worker count, ``"processes"``, ``"dask"``, a
scheduler address, a ready ``concurrent.futures.Executor`` or a ``dask.distributed.Client`` (both left
open for their owner). Which executor runs a task never changes its result: a run depends only on its
scenario, parameters and seed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from twinsim.core.version import package_version
from twinsim.errors import TwinsimError
from twinsim.experiments.failures import SchedulerLostError, WorkerLostError, lost_worker
from twinsim.experiments.process import tune_for_runs

__all__ = [
    "PROTOCOLS",
    "Borrowed",
    "DaskCluster",
    "ExecutorHandle",
    "LocalProcesses",
    "Serial",
    "SerialExecutor",
    "all_cores",
    "check_address",
    "check_workers",
    "imap_unordered",
    "open_executor",
    "resolve_executor",
]


def all_cores() -> int:
    """The number of cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SerialExecutor(cf.Executor):
    """A ``concurrent.futures`` executor that runs each task at once, in the calling thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` now; return a finished future holding its result or exception."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


@dataclass(frozen=True)
class ExecutorHandle:
    """An open executor and the number of tasks it runs at once."""

    executor: cf.Executor
    workers: int
    label: str


@dataclass(frozen=True)
class Serial:
    """Run in this process."""

    @contextmanager
    def open(self) -> Iterator[ExecutorHandle]:
        """Yield a serial executor."""
        yield ExecutorHandle(SerialExecutor(), 1, "serial")


def watch_parent(pid: int, interval: float = 0.5) -> None:
    """In a worker: end this process when process ``pid`` (the main process) has ended, even if it was killed.

    A pool's workers otherwise wait for tasks forever once their main process is gone (``kill -9``, an OOM kill).
    """

    def watch() -> None:
        while True:
            time.sleep(interval)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # pragma: no cover - a process of another user now has the pid
                os._exit(1)

    threading.Thread(target=watch, name="twinsim-watch-parent", daemon=True).start()


def start_worker(pid: int) -> None:
    """Initialise a local worker: it ends with process ``pid`` and is tuned for runs (see ``process``)."""
    watch_parent(pid)
    tune_for_runs()


@dataclass(frozen=True)
class LocalProcesses:
    """A pool of local worker processes (``workers=None``: all cores).

    Workers start with the ``forkserver`` method (``spawn`` where there is none), chosen for this pool
    only: forking a process that runs threads (a progress bar, a Dask client) is unsafe.
    """

    workers: int | None = None

    @contextmanager
    def open(self) -> Iterator[ExecutorHandle]:
        """Start the pool; shut it down (cancelling unstarted tasks) on exit."""
        workers = self.workers or all_cores()
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        pool = cf.ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context(method),
            initializer=start_worker,
            initargs=(os.getpid(),),
        )
        try:
            yield ExecutorHandle(pool, workers, f"{workers} local processes")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class DaskCluster:
    """Dask distributed: connect to ``scheduler`` (``tcp://HOST:PORT``) or start a ``LocalCluster``.

    A local cluster listens on 127.0.0.1 only, over TLS with a temporary certificate authority of its own (Dask's
    ``Security.temporary()``): only this process's client and the cluster's own workers hold its certificates, so no
    other process on the machine can connect and run code on the workers. It has ``workers`` single-threaded worker
    processes (default: all cores) and no dashboard; it stops on exit. An existing cluster's workers must have
    twinsim installed; the client disconnects on exit and leaves the cluster running.
    """

    scheduler: str | None = None
    workers: int | None = None

    @contextmanager
    def open(self) -> Iterator[ExecutorHandle]:
        """Connect (or start the local cluster) and yield the client's executor."""
        from dask.distributed import Client, LocalCluster, Security

        if self.scheduler is None:
            cluster = LocalCluster(
                security=Security.temporary(),
                protocol="tls://",
                n_workers=self.workers or all_cores(),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            with cluster, Client(cluster) as client:
                yield _dask_handle(client, f"Dask local cluster {cluster.scheduler_address}")
            return
        check_address(self.scheduler)
        try:
            client = Client(self.scheduler, timeout="10s", set_as_default=False)
        except Exception as exc:  # a refused, unreachable or non-Dask address fails in many ways
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            raise TwinsimError(f"--scheduler {self.scheduler}: cannot connect to a Dask scheduler ({reason})") from None
        with _quiet_dask_logs(), client:
            check_workers(client, self.scheduler)
            try:
                yield _dask_handle(client, f"Dask cluster {self.scheduler}")
            except (KeyboardInterrupt, GeneratorExit, TwinsimError):
                raise
            except BaseException as exc:  # asyncio's CancelledError is no Exception
                if client.status == "running" and not lost_worker(exc):
                    raise
                raise SchedulerLostError(
                    f"--scheduler {self.scheduler}: the Dask scheduler was lost ({type(exc).__name__}); start it again"
                    " and rerun with --resume (the finished runs are kept in --store or --out)"
                ) from None


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """Dask's own error logs off while twinsim holds a client: a lost scheduler is one line of twinsim's."""
    names = ["distributed", *(n for n in logging.root.manager.loggerDict if n.startswith("distributed."))]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


#: How often a run over a cluster checks that it still has workers, and how long it waits without any (seconds).
WATCH_SECONDS = 5.0
WORKER_LOSS_SECONDS = 30.0

#: Protocols of a Dask scheduler address that twinsim connects to.
PROTOCOLS = ("tcp", "tls")

#: Seconds to wait for a cluster's first worker, and for the workers' answer to the version check.
WORKER_TIMEOUT = 30


def check_address(address: str) -> None:
    """Check a scheduler address (``tcp://HOST:PORT``) before connecting; raise a one-line error if malformed."""
    from urllib.parse import urlsplit

    allowed = f"expected tcp://HOST:PORT (protocols: {', '.join(PROTOCOLS)}; port 1-65535)"
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise TwinsimError(f"--scheduler {address!r}: not an address; {allowed}") from None
    if parts.scheme not in PROTOCOLS or not parts.hostname or port is None or not 0 < port < 65536:
        raise TwinsimError(f"--scheduler {address!r}: not a Dask scheduler address; {allowed}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise TwinsimError(f"--scheduler {address!r}: unexpected path or query; {allowed}")
    host = parts.hostname
    if host.replace(".", "").isdigit():  # written as an IPv4 address: it must be one (no 10 s connection attempt)
        import ipaddress

        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise TwinsimError(f"--scheduler {address!r}: {host} is not an IP address; {allowed}") from None


def _worker_version() -> str:
    return package_version()


def check_workers(client: Any, address: str) -> None:
    """Every worker of a cluster must run this twinsim version; raise a one-line error otherwise (never hang).

    The check runs a function defined in twinsim on every worker: a worker without twinsim cannot even load it.
    """
    __version__ = package_version()
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except Exception:
        raise TwinsimError(f"--scheduler {address}: no worker joined within {WORKER_TIMEOUT} s") from None
    try:
        versions = client.run(_worker_version, on_error="return")
    except Exception as exc:
        raise TwinsimError(f"--scheduler {address}: the workers did not answer ({type(exc).__name__})") from None
    for worker, version in sorted(versions.items()):
        if isinstance(version, BaseException):
            raise TwinsimError(
                f"--scheduler {address}: worker {worker} cannot run twinsim ({type(version).__name__}: {version}); "
                f"install twinsim {__version__} on every worker (see docs/experiments.md)"
            )
        if version != __version__:
            raise TwinsimError(
                f"--scheduler {address}: worker {worker} runs twinsim {version}, this client {__version__}; "
                "install the same version on every worker"
            )


def _dask_handle(client: Any, label: str) -> ExecutorHandle:
    threads = sum(client.nthreads().values())
    return ExecutorHandle(_WatchedExecutor(client.get_executor(pure=False), client), max(threads, 1), label)


class _WatchedExecutor(cf.Executor):
    """A Dask client's executor that can say whether the cluster still has a worker (see :func:`imap_unordered`)."""

    def __init__(self, inner: cf.Executor, client: Any) -> None:
        self._inner, self._client = inner, client

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        """Submit to the cluster."""
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the client's executor down (the client itself is closed by its owner)."""
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def workers_alive(self) -> bool:
        """Whether the scheduler answers and has at least one worker."""
        try:
            return bool(self._client.scheduler_info(n_workers=-1).get("workers"))
        except Exception:  # a lost scheduler fails in many ways; any of them means no worker
            return False


@dataclass(frozen=True)
class Borrowed:
    """An executor (or Dask client) owned by the caller: used as is, never shut down."""

    target: Any

    @contextmanager
    def open(self) -> Iterator[ExecutorHandle]:
        """Yield the borrowed executor."""
        if isinstance(self.target, cf.Executor):
            workers = getattr(self.target, "_max_workers", 1) or 1
            yield ExecutorHandle(self.target, workers, type(self.target).__name__)
        else:
            yield _dask_handle(self.target, f"Dask client {getattr(self.target, 'scheduler', '')}")


_NAMED: dict[str, Any] = {"serial": Serial(), "processes": LocalProcesses(), "dask": DaskCluster()}


def resolve_executor(spec: Any = None) -> Serial | LocalProcesses | DaskCluster | Borrowed:
    """The executor ``spec`` names (see :func:`open_executor`)."""
    found: Any = None
    if spec is None:
        found = Serial()
    elif isinstance(spec, str):
        found = _NAMED.get(spec) or (DaskCluster(scheduler=spec) if "://" in spec else None)
    elif isinstance(spec, int) and not isinstance(spec, bool) and spec >= 1:
        found = Serial() if spec == 1 else LocalProcesses(spec)
    elif isinstance(spec, Serial | LocalProcesses | DaskCluster | Borrowed):
        found = spec
    elif isinstance(spec, cf.Executor) or (hasattr(spec, "get_executor") and hasattr(spec, "nthreads")):
        found = Borrowed(spec)
    if found is None:
        raise TwinsimError(
            "executor: expected None, a worker count >= 1, 'serial', 'processes', 'dask', a scheduler "
            f"address tcp://HOST:PORT, or an executor object; got {spec!r}"
        )
    return found


def open_executor(spec: Any = None) -> AbstractContextManager[ExecutorHandle]:
    """A context manager yielding an :class:`ExecutorHandle` for ``spec``.

    Args:
        spec: ``None``, ``1`` or ``"serial"`` (serial); an integer ``k > 1`` (``k`` local processes);
            ``"processes"`` (all cores); ``"dask"`` (a Dask local cluster); ``"tcp://HOST:PORT"`` (an
            existing Dask scheduler); a :class:`Serial`, :class:`LocalProcesses` or :class:`DaskCluster`;
            a ``concurrent.futures.Executor`` or a ``dask.distributed.Client`` (not closed on exit).

    """
    return resolve_executor(spec).open()


def imap_unordered(
    executor: cf.Executor, fn: Callable[..., Any], tasks: Iterable[tuple[Any, ...]], max_pending: int
) -> Iterator[Any]:
    """Yield ``fn(*task)`` for every task as each finishes, with at most ``max_pending`` tasks submitted.

    Tasks are drawn from ``tasks`` lazily, so memory does not grow with their number. If a task raises,
    the exception propagates and unstarted tasks are cancelled.
    """
    source = iter(tasks)
    pending: set[cf.Future] = set()

    def fill() -> None:
        while len(pending) < max(1, max_pending):
            task = next(source, None)
            if task is None:
                return
            pending.add(executor.submit(fn, *task))

    alive = getattr(executor, "workers_alive", None)
    lost_since: float | None = None
    try:
        fill()
        while pending:
            done, _ = cf.wait(pending, timeout=WATCH_SECONDS if alive else None, return_when=cf.FIRST_COMPLETED)
            if not done and alive is not None:  # nothing finished: is anyone still working?
                if alive():
                    lost_since = None
                    continue
                lost_since = time.monotonic() if lost_since is None else lost_since
                if time.monotonic() - lost_since >= WORKER_LOSS_SECONDS:
                    raise WorkerLostError(
                        f"the cluster has had no worker (or no scheduler) for {WORKER_LOSS_SECONDS:g} s: check it and"
                        " run again with --store and --resume, which keep every finished run"
                    )
                continue
            for future in done:
                pending.discard(future)
                yield future.result()
            fill()
    finally:
        for future in pending:
            future.cancel()
