"""The result store: an experiment's runs on disk, written as they finish, checked and loaded back as tidy tables.

Layout of a store directory::

    manifest.json                 the scenario, seed, seeding scheme, replicates, every design point, the declared
                                  columns and a checksum of all of it
    parts/part-<sha256>.parquet   finished runs, one row each (a part per finished chunk of runs), named by the
                                  SHA-256 of its bytes

**Every column kept.** The columns are declared by the experiment before anything runs (its keys, its design
parameters and every output its families can report for any of its arms: :meth:`Experiment.columns`), recorded in
the manifest, and every part is written with all of them (nulls where a run reported nothing): which chunk finished
first never narrows the store, and ``--resume`` never rewrites a part. A run that reports a column the declaration
missed widens the store (the manifest and the parts already written gain it as nulls). Each part records the columns
its runs did report and their dtypes, so :meth:`ResultStore.runs` gives exactly the table of the same runs without a
store.

**Proof of what it holds.** A part's file name is the SHA-256 of its bytes, and its Parquet metadata carries the
identity of its experiment (seed, a digest of the scenario, a digest of the design). Reading a part checks both: a
damaged part (a flipped byte, a truncated copy) or one from another experiment (another seed, scenario or design) is
one :class:`StoreError` naming the file, never a number. The manifest carries a checksum of its own content.

**Retries.** A run that failed for lack of resources (memory, a full disk) is stored with its
error and marked retryable in its part's metadata: :meth:`ResultStore.done` leaves it out, so ``--resume`` runs it
again, and a success stored later replaces it in :meth:`ResultStore.runs` (see
:func:`twinsim.experiments.failures.retryable`). Other failures stay failed (a run depends
only on its seed: it would fail again).

Every file is written to a temporary name in the same directory, flushed to disk and renamed over its final name
(``os.replace``), so a killed process leaves whole files or none: never a half-written one. Leftover temporary files
are ignored and removed when the store is opened again. A run is identified by ``(point, replicate)``; resuming
computes only the runs that no part holds yet (or holds as retryable failures).
"""

from __future__ import annotations

import atexit
import hashlib
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

__all__ = [
    "FORMAT",
    "ResultStore",
    "StoreError",
    "declared_schema",
    "load_points",
    "load_results",
    "tidy_runs",
]

FORMAT = "twinsim-results/2"
#: Manifest entries that must match for a store to be resumed (replicates may grow).
_IDENTITY = ("format", "experiment", "scenario", "seed", "streams", "params", "points", "arms", "outputs", "posterior")
_LEADING = ("point", "replicate", "seed", "entropy", "spawn_key")  # ``arm`` follows ``point`` when arms have labels
#: The key of a part's own metadata in its Parquet schema.
_META = b"twinsim"
#: Arrow types a declared column may have (by name in the manifest); other values are stored as text.
_TYPES = {"int64": pa.int64(), "double": pa.float64(), "string": pa.string(), "bool": pa.bool_()}


class StoreError(TwinsimError):
    """A result store cannot be used as asked (it holds another experiment, or is damaged)."""


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp)`` on a temporary file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(_jsonable(value), sort_keys=True).encode()).hexdigest()


def declared_schema(keys: list[dict[str, Any]], outputs: list[str]) -> list[list[str]]:
    """The columns of a store, as ``[name, type]`` pairs, declared before anything runs.

    The run keys (typed from ``keys``: one row per arm), the ``outputs`` (floats; a count is restored to integers
    when read) and ``error``.
    """
    frame = pd.DataFrame(keys)
    columns: list[list[str]] = []
    for name in frame.columns:
        if name in {"arm", "spawn_key"}:
            kind = "string"
        else:
            try:
                kind = str(pa.array(frame[name].tolist()).type)
            except (pa.ArrowException, TypeError, ValueError):
                kind = "string"
            kind = kind if kind in _TYPES else "string"
        columns.append([str(name), kind])
    taken = {name for name, _ in columns}
    columns += [[name, "double"] for name in dict.fromkeys(outputs) if name not in taken and name != "error"]
    return [*columns, ["error", "string"]]


def _arrow_schema(columns: list[list[str]]) -> pa.Schema:
    return pa.schema([pa.field(name, _TYPES.get(kind, pa.string())) for name, kind in columns])


class ResultStore:
    """A directory of finished runs and the manifest of the experiment they belong to."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.parts_dir = self.path / "parts"
        self.manifest_path = self.path / "manifest.json"
        self.option = "--store"  # how errors name the store (the command-line option it came from)

    # ---------------------------------------------------------------- creating and opening

    @classmethod
    def create(
        cls, path: str | Path, manifest: dict[str, Any], resume: bool = False, option: str = "--store"
    ) -> ResultStore:
        """Start a store for the experiment ``manifest`` describes, or reopen it when ``resume``.

        ``manifest["columns"]`` declares the store's columns (see :func:`declared_schema`); on resume the columns
        already recorded are kept and any new ones added. A directory whose manifest has no runs yet (a sweep
        stopped before its first run) starts afresh.

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
        manifest.setdefault("columns", [["error", "string"]])
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
            manifest["columns"] = _union(old.get("columns", []), manifest["columns"])  # never narrower
        elif store.parts_dir.exists() and any(store.parts_dir.glob("part-*.parquet")):
            raise StoreError(f"{option} {store.path}: has result parts but no manifest.json; use a new directory")
        store.path.mkdir(parents=True, exist_ok=True)
        store.parts_dir.mkdir(exist_ok=True)
        for stale in store.parts_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        store._write_manifest(manifest)
        if resume and store.parts():
            widened = _arrow_schema(manifest["columns"])
            for part in store.parts():  # parts written before a new column was declared gain it (never lose one)
                if _read_schema(part).names != widened.names:
                    store._widen(part, widened)
        return store

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest = _jsonable({k: v for k, v in manifest.items() if k not in {"checksum", "identity"}})
        manifest["identity"] = _identity(manifest)
        manifest["checksum"] = _digest(manifest)
        text = json.dumps(manifest, indent=1)
        atomic_write(self.manifest_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        self._manifest = manifest

    @property
    def manifest(self) -> dict[str, Any]:
        """The experiment's description (see the module docstring), checked against its checksum."""
        cached = getattr(self, "_manifest", None)
        if cached is not None:
            return cached
        if not self.manifest_path.is_file():
            raise StoreError(f"{self.path}: not a twinsim result store (no manifest.json)")
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            raise StoreError(f"{self.manifest_path}: not a valid manifest") from None
        if not isinstance(manifest, dict):
            raise StoreError(f"{self.manifest_path}: not a valid manifest")
        if manifest.get("format") != FORMAT:
            raise StoreError(
                f"{self.manifest_path}: format {manifest.get('format')!r}, expected {FORMAT!r} (written by another "
                "twinsim version: run the experiment again into a new folder)"
            )
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        if manifest.get("checksum") != _digest(body) or manifest.get("identity") != _identity(body):
            raise StoreError(
                f"{self.manifest_path}: damaged (its content does not match its checksum); run the experiment again "
                "into a new folder"
            )
        self._manifest = manifest
        return manifest

    # ---------------------------------------------------------------- writing

    def write(self, rows: list[dict[str, Any]]) -> Path:
        """Write finished runs as one new part, atomically; returns the part's path.

        Every part has the store's declared columns (nulls where a run reported nothing); a column the
        declaration missed widens the store first. Rows may carry ``retryable`` (True for a run that failed for
        lack of resources): recorded in the part's metadata, not as a column.
        """
        retry = [[int(r["point"]), int(r["replicate"])] for r in rows if r.get("retryable")]
        frame = pd.DataFrame([{k: v for k, v in r.items() if k != "retryable"} for r in rows])
        manifest = self.manifest
        declared = {name for name, _ in manifest["columns"]}
        extra = [c for c in frame.columns if c not in declared]
        if extra:  # the declaration missed a column: widen the store, never drop it
            columns = manifest["columns"]
            at = len(columns) - 1 if columns and columns[-1][0] == "error" else len(columns)
            columns = [*columns[:at], *([c, "double"] for c in extra), *columns[at:]]
            self._write_manifest({**manifest, "columns": columns})
            schema = _arrow_schema(columns)
            for part in self.parts():
                self._widen(part, schema)
        schema = _arrow_schema(self.manifest["columns"])
        ok = pd.DataFrame([{k: v for k, v in r.items() if k != "retryable"} for r in rows if r.get("error") is None])
        meta = {
            **self._identity_meta(),
            "dtypes": {str(c): str(frame[c].dtype) for c in frame.columns},
            "success_dtypes": {str(c): str(ok[c].dtype) for c in ok.columns},
            "rows": len(frame),
            "retryable": retry,
        }
        table = _conform(frame, schema).replace_schema_metadata({_META: json.dumps(meta).encode()})
        try:
            return self._write_part(table)
        except OSError as exc:
            raise StoreError(
                f"{self.option_name}: cannot write a result part in {self.parts_dir} ({exc.strerror or exc}); "
                "free some space, then run again with --resume"
            ) from None

    @property
    def option_name(self) -> str:
        """The option and folder an error names (``--store DIR``)."""
        return f"{getattr(self, 'option', '--store')} {self.path}"

    def _write_part(self, table: pa.Table) -> Path:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue().to_pybytes()
        path = self.parts_dir / f"part-{hashlib.sha256(data).hexdigest()}.parquet"
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
        return path

    def _widen(self, part: Path, schema: pa.Schema) -> None:
        """Rewrite ``part`` with the columns of ``schema`` (those it lacks as nulls), keeping its metadata."""
        table, meta = self._read(part)
        missing = [f for f in schema if f.name not in table.column_names]
        for field in missing:
            table = table.append_column(field, pa.nulls(len(table), field.type))
        table = table.select(schema.names).replace_schema_metadata({_META: json.dumps(meta).encode()})
        self._write_part(table)
        part.unlink(missing_ok=True)

    def _identity_meta(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            "identity": manifest["identity"],
            "seed": manifest.get("seed"),
            "scenario": _digest(manifest.get("scenario")),
            "design": _digest({k: manifest.get(k) for k in _IDENTITY if k not in {"seed", "scenario"}}),
        }

    # ---------------------------------------------------------------- reading

    def parts(self) -> list[Path]:
        """The finished parts (temporary files excluded)."""
        return sorted(self.parts_dir.glob("part-*.parquet"))

    def _read(self, path: Path) -> tuple[pa.Table, dict[str, Any]]:
        """A part's table and metadata, after checking its checksum and that it belongs to this experiment."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if path.name != f"part-{hashlib.sha256(data).hexdigest()}.parquet":
            raise StoreError(
                f"{path}: a damaged result part (its content does not match its checksum); delete it and run again "
                "with --resume to recompute its runs"
            )
        try:
            table = pq.read_table(pa.BufferReader(data))
            meta = json.loads((table.schema.metadata or {})[_META])
        except (pa.ArrowException, OSError, KeyError, ValueError, TypeError) as exc:
            reason = "no twinsim identity" if isinstance(exc, KeyError) else f"unreadable: {exc}"
            raise StoreError(f"{path}: not a part of this result store ({reason}); remove it from the store") from None
        ours = self._identity_meta()
        if meta.get("identity") != ours["identity"] or len(table) != meta.get("rows"):
            what = next((k for k in ("seed", "scenario", "design") if meta.get(k) != ours[k]), "identity")
            found = f"seed {meta.get('seed')}, not {ours['seed']}" if what == "seed" else f"its {what} differs"
            raise StoreError(
                f"{path}: a result part of another experiment ({found}); remove it from this store (--resume then "
                "recomputes any runs it lacks)"
            )
        return table, meta

    def _frame(self, path: Path, names: list[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
        """A part's runs as the frame its chunk was (only the columns its runs reported, with their dtypes)."""
        table, meta = self._read(path)
        dtypes = meta.get("dtypes", {})
        keep = [c for c in table.column_names if c in dtypes and (names is None or c in names)]
        frame = table.select(keep).to_pandas()
        for column, dtype in dtypes.items():
            if column not in frame.columns or str(frame[column].dtype) == dtype:
                continue
            values = frame[column]
            try:
                frame[column] = values.astype(object).where(values.notna(), None) if dtype == "object" else (
                    values.astype(dtype))  # fmt: skip
            except (TypeError, ValueError):  # pragma: no cover - a dtype this pandas does not know
                pass
        return frame, meta

    def _keys(self) -> pd.DataFrame:
        """``point``, ``replicate``, ``failed`` and ``retry`` of every stored run, one row each (a success first)."""
        frames = []
        for part in self.parts():
            frame, meta = self._frame(part, ["point", "replicate", "error"])
            retry = {tuple(key) for key in meta.get("retryable", [])}
            frame["failed"] = frame["error"].notna()
            frame["retry"] = [
                (int(p), int(r)) in retry for p, r in zip(frame["point"], frame["replicate"], strict=True)
            ]
            frames.append(frame[["point", "replicate", "failed", "retry"]])
        if not frames:
            empty = {"int64": ("point", "replicate"), "bool": ("failed", "retry")}
            return pd.DataFrame({c: pd.Series([], dtype=t) for t, names in empty.items() for c in names})
        keys = pd.concat(frames, ignore_index=True).sort_values(["point", "replicate", "failed", "retry"])
        return keys.drop_duplicates(["point", "replicate"]).reset_index(drop=True)

    def done(self) -> set[tuple[int, int]]:
        """The ``(point, replicate)`` of every stored run not to compute again.

        Failed runs are included, except those that failed for lack of resources: ``--resume`` retries them.
        """
        keys = self._keys()
        keys = keys[~keys["retry"]]
        return set(zip(keys["point"].astype(int), keys["replicate"].astype(int), strict=True))

    def failed(self) -> int:
        """The number of stored runs that raised (and have not passed since)."""
        return int(self._keys()["failed"].sum())

    def retryable(self) -> int:
        """The number of stored runs that failed for lack of resources (and have not passed since)."""
        return int(self._keys()["retry"].sum())

    def runs(self) -> pd.DataFrame:
        """Every stored run: one tidy row per (point, replicate), sorted, each run once.

        Columns: ``point``, the swept parameters (dotted keys), ``replicate``, ``seed`` (the experiment
        seed), ``entropy`` and ``spawn_key`` (the run's ``SeedSequence``), the run's summary outputs and
        ``error`` (``None``, or the exception of a run that raised; its outputs are then missing). A run stored
        twice (a retried failure) is its success.
        """
        frames: list[pd.DataFrame] = []
        ints: set[str] = set()
        floats: set[str] = set()
        for part in self.parts():
            frame, meta = self._frame(part)
            frames.append(frame)
            for column, dtype in meta.get("success_dtypes", {}).items():
                (ints if dtype.startswith("int") else floats).add(column)
        manifest = self.manifest
        order = [name for name, _ in manifest.get("columns", [])]
        table = tidy_runs(frames, list(manifest.get("params", [])), order=order, counts=ints - floats)
        return table[table["replicate"] < int(manifest["replicates"])].reset_index(drop=True)

    def points(self) -> pd.DataFrame:
        """The design: one row per point (``point`` and the swept parameters)."""
        manifest = self.manifest
        frame = pd.DataFrame(manifest["points"], columns=manifest.get("params") or None)
        frame.insert(0, "point", range(len(frame)))
        return frame


def _identity(manifest: dict[str, Any]) -> str:
    """The digest of what identifies an experiment (``_IDENTITY`` and the design it was made from)."""
    return _digest({k: manifest.get(k) for k in (*_IDENTITY, "design")})


def _union(old: list[list[str]], new: list[list[str]]) -> list[list[str]]:
    """The columns of ``old`` and those of ``new`` it lacks (before ``error``)."""
    have = {name for name, _ in old}
    extra = [c for c in new if c[0] not in have]
    at = len(old) - 1 if old and old[-1][0] == "error" else len(old)
    return [*old[:at], *extra, *old[at:]] if old else list(new)


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


def _read_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise StoreError(
            f"{path}: a damaged result part ({exc}); delete it and run again with --resume to recompute its runs"
        ) from None


def _conform(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame`` as an Arrow table of ``schema``: every declared column, nulls where the runs reported nothing."""
    arrays = []
    for field in schema:
        if field.name not in frame.columns:
            arrays.append(pa.nulls(len(frame), field.type))
            continue
        values = frame[field.name]
        if pa.types.is_string(field.type):
            values = values.map(lambda v: v if v is None or isinstance(v, str) or v != v else str(v))  # noqa: PLR0124
        arrays.append(pa.array(values, type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)


def tidy_runs(
    frames: list[pd.DataFrame], params: list[str], order: list[str] | None = None, counts: set[str] | None = None
) -> pd.DataFrame:
    """Concatenate chunks of run rows into the tidy runs table: sorted by (point, replicate), each run once.

    Columns in the order ``point``, ``params``, ``replicate``, ``seed``, ``entropy``, ``spawn_key``, the
    outputs (in the declared ``order``, else in the order of a complete row: a chunk of failed runs only lacks
    them) and ``error``. A run present twice (a failure retried) is its success; ``counts`` are the columns whose
    successful runs report integers (integers again when no failure is left).
    """
    if not frames:
        return pd.DataFrame(columns=[*_LEADING[:1], *params, *_LEADING[1:], "error"])
    frame = pd.concat(frames, ignore_index=True)
    if order is None:
        order = list(max(frames, key=lambda f: len(f.columns)).columns)
    outputs = [c for c in order if c in frame.columns and c not in {*_LEADING, *params, "error"}]
    rest = [c for c in frame.columns if c not in {*_LEADING, *params, *outputs, "error"}]
    frame = frame[[_LEADING[0], *params, *_LEADING[1:], *outputs, *rest, "error"]]
    failed = frame["error"].notna().to_numpy()
    frame = frame.iloc[pd.DataFrame({"p": frame["point"], "r": frame["replicate"], "f": failed}).sort_values(
        ["p", "r", "f"], kind="stable").index]  # fmt: skip
    frame = frame.drop_duplicates(["point", "replicate"]).reset_index(drop=True)
    for column in counts or ():  # integers again once a replaced failure (its nulls) is gone
        if pd.api.types.is_float_dtype(frame[column]) and frame[column].notna().all():
            frame[column] = frame[column].astype("int64")
    return frame


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
