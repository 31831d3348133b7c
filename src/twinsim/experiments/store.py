"""The result store: an experiment's runs on disk, written as they finish, loaded back as tidy tables.

Layout of a store directory::

    manifest.json            the scenario, seed, seeding scheme, replicates and every design point
    parts/part-<id>.parquet  finished runs, one row each (a part per finished chunk of runs)

Every file is written to a temporary name in the same directory, flushed to disk and renamed over its
final name (``os.replace``), so a killed process leaves whole files or none: never a half-written one.
Leftover temporary files are ignored and removed when the store is opened again. A run is identified by
``(point, replicate)``; resuming computes only the runs that no part holds yet.
"""

from __future__ import annotations

import atexit
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from twinsim.errors import TwinsimError

__all__ = ["FORMAT", "ResultStore", "StoreError", "load_points", "load_results", "tidy_runs"]

FORMAT = "twinsim-results/1"
#: Manifest entries that must match for a store to be resumed (replicates may grow).
_IDENTITY = ("format", "experiment", "scenario", "seed", "streams", "params", "points", "arms", "outputs", "posterior")
_LEADING = ("point", "replicate", "seed", "entropy", "spawn_key")  # ``arm`` follows ``point`` when arms have labels


class StoreError(TwinsimError):
    """A result store cannot be used as asked (it holds another experiment, or is damaged)."""


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp)`` on a temporary file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class ResultStore:
    """A directory of finished runs and the manifest of the experiment they belong to."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.parts_dir = self.path / "parts"
        self.manifest_path = self.path / "manifest.json"

    # ---------------------------------------------------------------- creating and opening

    @classmethod
    def create(
        cls, path: str | Path, manifest: dict[str, Any], resume: bool = False, option: str = "--store"
    ) -> ResultStore:
        """Start a store for the experiment ``manifest`` describes, or reopen it when ``resume``.

        A directory whose manifest has no runs yet (a sweep stopped before its first run) starts afresh.

        Raises:
            StoreError: the directory already holds runs and ``resume`` is false, or it holds a
                different experiment (another scenario, seed, seeding scheme or design), or another process
                is writing to it, or it cannot be created.

        The store is locked for this process (``writer.lock`` holds its pid) until :meth:`close`: a second writer
        is refused; a lock left by a process that has ended is taken over.

        """
        store = cls(path)
        store.option = option
        try:
            store.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{option} {store.path}: cannot be created ({exc.strerror or exc})") from None
        if not store.path.is_dir():
            raise StoreError(f"{option} {store.path}: is a file, not a folder")
        store.lock()
        try:
            return store._open(manifest, resume)
        except BaseException:
            store.close()
            raise

    def lock(self) -> None:
        """Take the store's writer lock, or raise :class:`StoreError` when a live process holds it."""
        lock = self.path / LOCK_FILE
        for _ in range(3):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = _lock_pid(lock)
                if pid == os.getpid():
                    break
                if pid is not None and _alive(pid):
                    raise StoreError(
                        f"{self.option} {self.path}: another twinsim process (pid {pid}) is writing to it; wait for "
                        f"it to finish or use another folder"
                    ) from None
                lock.unlink(missing_ok=True)  # left by a process that has ended: take it over
                continue
            except OSError as exc:
                raise StoreError(f"{self.option} {self.path}: cannot write to it ({exc.strerror or exc})") from None
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{os.getpid()}\n")
            break
        else:  # pragma: no cover - three processes racing for a stale lock
            raise StoreError(f"{self.option} {self.path}: could not take the writer lock {lock}")
        self._locked = True
        atexit.register(self.close)

    def close(self) -> None:
        """Release the writer lock (if this process holds it)."""
        if getattr(self, "_locked", False):
            lock = self.path / LOCK_FILE
            if _lock_pid(lock) == os.getpid():
                lock.unlink(missing_ok=True)
            self._locked = False

    def _open(self, manifest: dict[str, Any], resume: bool) -> ResultStore:
        store, option = self, self.option
        manifest = {"format": FORMAT, **manifest}
        if store.manifest_path.exists() and store.parts():
            old = store.manifest
            if not resume:
                raise StoreError(f"{option} {store.path}: already holds results; pass --resume to complete them")
            changed = [key for key in _IDENTITY if _jsonable(old.get(key)) != _jsonable(manifest.get(key))]
            if changed:
                raise StoreError(
                    f"{option} {store.path}: holds a different experiment ({changed[0]} differs); "
                    "resume with the same settings or use a new directory"
                )
            manifest["replicates"] = max(int(old["replicates"]), int(manifest["replicates"]))
        elif store.parts_dir.exists() and any(store.parts_dir.glob("part-*.parquet")):
            raise StoreError(f"{option} {store.path}: has result parts but no manifest.json; use a new directory")
        store.path.mkdir(parents=True, exist_ok=True)
        store.parts_dir.mkdir(exist_ok=True)
        for stale in store.parts_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        text = json.dumps(_jsonable(manifest), indent=1)
        atomic_write(store.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return store

    @property
    def manifest(self) -> dict[str, Any]:
        """The experiment's description (see the module docstring)."""
        if not self.manifest_path.is_file():
            raise StoreError(f"{self.path}: not a twinsim result store (no manifest.json)")
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StoreError(f"{self.manifest_path}: not a valid manifest") from None
        if manifest.get("format") != FORMAT:
            raise StoreError(f"{self.manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r}")
        return manifest

    # ---------------------------------------------------------------- writing

    def write(self, rows: list[dict[str, Any]]) -> Path:
        """Write finished runs as one new part, atomically; returns the part's path.

        Every part of a store has the same Arrow schema, fixed by the first part that holds a successful run
        (recorded in the manifest): failed runs keep every output column (as nulls), so ``pyarrow.dataset`` and
        DuckDB read the parts as one table. Parts written before the schema was known are rewritten to it.
        """
        frame = pd.DataFrame(rows)
        schema = self.schema()
        if schema is None and frame["error"].isna().any():
            schema = _schema_of(frame)
            manifest = {**self.manifest, "schema": schema.to_string()}
            self._schema = schema
            text = json.dumps(_jsonable(manifest), indent=1)
            atomic_write(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
            for part in self.parts():
                table = _conform(_read_part(part), schema)
                atomic_write(part, lambda tmp, table=table: pq.write_table(table, tmp))
        table = _conform(frame, schema)
        path = self.parts_dir / f"part-{uuid.uuid4().hex}.parquet"
        atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def schema(self) -> pa.Schema | None:
        """The store's fixed Arrow schema, once a successful run has been written."""
        cached = getattr(self, "_schema", None)
        if cached is None and self.manifest_path.is_file() and self.parts():
            first = next((p for p in self.parts() if _read_schema(p).field("error").type == pa.string()), None)
            if first is not None and "schema" in self.manifest:
                cached = self._schema = _read_schema(first).remove_metadata()
        return cached

    # ---------------------------------------------------------------- reading

    def parts(self) -> list[Path]:
        """The finished parts (temporary files excluded)."""
        return sorted(self.parts_dir.glob("part-*.parquet"))

    def _column(self, names: list[str]) -> pd.DataFrame:
        frames = [_read_part(p, names) for p in self.parts()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=names)

    def done(self) -> set[tuple[int, int]]:
        """The ``(point, replicate)`` of every stored run (failed runs included: they are not retried)."""
        keys = self._column(["point", "replicate"])
        return set(zip(keys["point"].astype(int), keys["replicate"].astype(int), strict=True))

    def failed(self) -> int:
        """The number of stored runs that raised."""
        errors = self._column(["error"])["error"]
        return int(errors.notna().sum())

    def runs(self) -> pd.DataFrame:
        """Every stored run: one tidy row per (point, replicate), sorted, each run once.

        Columns: ``point``, the swept parameters (dotted keys), ``replicate``, ``seed`` (the experiment
        seed), ``entropy`` and ``spawn_key`` (the run's ``SeedSequence``), the run's summary outputs and
        ``error`` (``None``, or the exception of a run that raised; its outputs are then missing).
        """
        frames = [_read_part(p) for p in self.parts()]
        manifest = self.manifest
        table = tidy_runs(frames, list(manifest.get("params", [])))
        return table[table["replicate"] < int(manifest["replicates"])].reset_index(drop=True)

    def points(self) -> pd.DataFrame:
        """The design: one row per point (``point`` and the swept parameters)."""
        manifest = self.manifest
        frame = pd.DataFrame(manifest["points"], columns=manifest.get("params") or None)
        frame.insert(0, "point", range(len(frame)))
        return frame


LOCK_FILE = "writer.lock"


def _lock_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text(encoding="utf-8").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie has ended)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _read_part(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """One part as a frame; a damaged part (a truncated copy, a full disk) is one line naming it."""
    try:
        return pq.read_table(path, columns=columns).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(
            f"{path}: a damaged result part ({exc}); delete it and run again with --resume to recompute its runs"
        ) from None


def _read_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(
            f"{path}: a damaged result part ({exc}); delete it and run again with --resume to recompute its runs"
        ) from None


def _schema_of(frame: pd.DataFrame) -> pa.Schema:
    """The Arrow schema of a part with a successful run: ``error`` a string, all-null columns floats."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = []
    for field in table.schema:
        kind = pa.string() if field.name in {"error", "spawn_key", "arm"} else field.type
        fields.append(pa.field(field.name, pa.float64() if pa.types.is_null(kind) else kind))
    return pa.schema(fields)


def _conform(frame: pd.DataFrame, schema: pa.Schema | None) -> pa.Table:
    """``frame`` as an Arrow table of ``schema`` (missing columns null), or with a string ``error`` if none yet."""
    if schema is None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        index = table.schema.get_field_index("error")
        return table.set_column(index, "error", table.column("error").cast(pa.string()))
    for name in schema.names:
        if name not in frame.columns:
            frame[name] = None
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def tidy_runs(frames: list[pd.DataFrame], params: list[str]) -> pd.DataFrame:
    """Concatenate chunks of run rows into the tidy runs table: sorted by (point, replicate), each run once.

    Columns in the order ``point``, ``params``, ``replicate``, ``seed``, ``entropy``, ``spawn_key``, the
    outputs (in the order of a complete row: a chunk of failed runs only lacks them) and ``error``.
    """
    if not frames:
        return pd.DataFrame(columns=[*_LEADING[:1], *params, *_LEADING[1:], "error"])
    widest = max(frames, key=lambda f: len(f.columns))
    frame = pd.concat(frames, ignore_index=True)
    outputs = [c for c in widest.columns if c not in {*_LEADING, *params, "error"}]
    rest = [c for c in frame.columns if c not in {*_LEADING, *params, *outputs, "error"}]
    frame = frame[[_LEADING[0], *params, *_LEADING[1:], *outputs, *rest, "error"]]
    frame = frame.sort_values(["point", "replicate"], kind="stable")
    return frame.drop_duplicates(["point", "replicate"]).reset_index(drop=True)


def load_results(path: str | Path) -> pd.DataFrame:
    """The tidy table of every run in the result store at ``path`` (see :meth:`ResultStore.runs`)."""
    return ResultStore(path).runs()


def load_points(path: str | Path) -> pd.DataFrame:
    """The design points of the result store at ``path``."""
    return ResultStore(path).points()


def _jsonable(value: Any) -> Any:
    """Plain JSON types (NumPy scalars become Python numbers), for the manifest and comparisons."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
