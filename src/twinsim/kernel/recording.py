"""Recording a run month by month: the full panel in memory, the panel streamed to disk, or aggregates.

Every run records, each month, the mean capacity of every group of institutions sharing a kind, a
region, a topic and whether they chose the topic (:class:`AggregateRecorder`: one ``bincount`` per
month). The scenario's ``[recording]`` section decides what else is kept:

- ``mode = "panel"`` (default): the full institution x topic x month array (``model.history``), from
  which :func:`panel_frame` builds the tidy panel;
- ``mode = "panel"`` with ``panel_dir``: the same panel rows, written to a Parquet file month by month
  (:class:`PanelWriter`), so memory does not grow with months x institutions;
- ``mode = "aggregate"``: only the aggregates and two snapshots (baseline and endline).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twinsim.kernel.streams import seed_entropy

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq


__all__ = ["AGGREGATE_KEYS", "AggregateRecorder", "PanelWriter", "Recorder", "panel_file_name", "panel_frame"]

#: The recorder reads a :class:`twinsim.model.twinning.TwinningSimulation` and its replicates' views (typed ``Any``:
#: the model sits above the kernel).

AGGREGATE_KEYS = ["month", "kind", "region", "topic", "selected"]


class Recorder:
    """What a model records each month, for every replicate: aggregates (unless asked not); the panel as asked.

    Attributes:
        aggregates: monthly sums per (replicate, kind, region, topic, selected) group.
        history: (months + 1) x rows x topics capacity (in-memory panel), or None.
        writers: one :class:`PanelWriter` per replicate when ``recording.panel_dir`` is set, else empty (files named
            by ``panel_names``, one per replicate, or by :func:`panel_file_name`).

    """

    def __init__(self, model: Any, aggregates: bool = True, panel_names: Sequence[str] | None = None) -> None:
        rec = model.params.recording
        self.aggregates = AggregateRecorder(model) if aggregates else None
        self.history: np.ndarray | None = None
        self.writers: list[PanelWriter] = []
        if rec.mode == "panel" and rec.panel_dir:
            for block, seq in enumerate(model.seeds):
                seed, replicate = seed_entropy(seq), (seq.spawn_key or (0,))[-1]
                name = panel_file_name(seed, replicate) if panel_names is None else panel_names[block]
                path = Path(rec.panel_dir) / name
                self.writers.append(PanelWriter(model.replicate(block), path, seed, replicate))
        elif rec.mode == "panel":
            self.history = np.empty((model.months_total + 1, model.n, len(model.topic_names)))
        self.record(model)

    def record(self, model: Any) -> None:
        """Record month ``model.month``."""
        if self.aggregates is not None:
            self.aggregates.record(model.month, model.capacity)
        if self.history is not None:
            self.history[model.month] = model.capacity
        n = model.n_institutions
        for block, writer in enumerate(self.writers):
            writer.record(model.month, model.capacity[block * n : (block + 1) * n])

    def close(self) -> None:
        """Finish any streamed panel files."""
        for writer in self.writers:
            writer.close()


class AggregateRecorder:
    """Monthly sums of capacity per (replicate, kind, region, topic, selected) group of applicable cells."""

    def __init__(self, model: Any) -> None:
        self.model = model
        row, topic = np.nonzero(model.applicable)
        n_topics, n_regions, n_kinds = len(model.topic_names), len(model.region_names), len(model.kind_names)
        block = model.block[row]
        group = (((block * n_kinds + model.kind[row]) * n_regions + model.region[row]) * n_topics + topic) * 2
        group = group + model.selected[row, topic]
        self._groups, self._cell_group = np.unique(group, return_inverse=True)
        self._block_of_group = self._groups // (2 * n_topics * n_regions * n_kinds)
        self._flat = row * n_topics + topic
        self.counts = np.bincount(self._cell_group, minlength=self._groups.size)
        self.sums = np.zeros((model.months_total + 1, self._groups.size))

    def record(self, month: int, capacity: np.ndarray) -> None:
        """Add month ``month``'s capacity."""
        values = capacity.ravel()[self._flat]
        self.sums[month] = np.bincount(self._cell_group, weights=values, minlength=self._groups.size)

    def mean_indicator(self) -> np.ndarray:
        """Months x replicates: the mean indicator over each replicate's applicable cells (every replicate at once).

        Each replicate's groups are contiguous (the group code leads with the replicate), and each is summed on
        its own, so a replicate's numbers do not depend on the replicates beside it.
        """
        m = self.model
        n_topics = len(m.topic_names)
        topic = (self._groups // 2) % n_topics
        lo = np.array([t.indicator_min for t in m.params.topics.values()])[topic]
        hi = np.array([t.indicator_max for t in m.params.topics.values()])[topic]
        weighted = (lo + (hi - lo) * (self.sums / self.counts)) * self.counts
        starts = np.flatnonzero(np.r_[True, self._block_of_group[1:] != self._block_of_group[:-1]])
        out = np.full((self.sums.shape[0], m.replicates), np.nan)
        blocks = self._block_of_group[starts]
        out[:, blocks] = np.add.reduceat(weighted, starts, axis=1) / np.add.reduceat(self.counts, starts)
        return out

    def frame(self, block: int = 0) -> pd.DataFrame:
        """Replicate ``block``'s rows: month, kind, region, topic, selected, institutions, capacity, indicator."""
        import pandas as pd

        m = self.model
        mine = self._block_of_group == block
        groups, counts, sums = self._groups[mine], self.counts[mine], self.sums[:, mine]
        n_topics, n_regions, n_kinds = len(m.topic_names), len(m.region_names), len(m.kind_names)
        selected, rest = groups % 2, groups // 2
        topic, rest = rest % n_topics, rest // n_topics
        region, kind = rest % n_regions, (rest // n_regions) % n_kinds
        months = sums.shape[0]
        mean = sums / counts
        lo = np.array([t.indicator_min for t in m.params.topics.values()])[topic]
        hi = np.array([t.indicator_max for t in m.params.topics.values()])[topic]
        tile = lambda a: np.tile(a, months)  # noqa: E731
        return pd.DataFrame(
            {
                "month": np.repeat(np.arange(months), groups.size),
                "kind": pd.Categorical(tile(np.array(m.kind_names)[kind]), categories=m.kind_names),
                "region": pd.Categorical(tile(np.array(m.region_names)[region]), categories=m.region_names),
                "topic": pd.Categorical(tile(np.array(m.topic_names)[topic]), categories=m.topic_names),
                "selected": tile(selected.astype(bool)),
                "institutions": tile(counts),
                "capacity": mean.ravel(),
                "indicator": (lo + (hi - lo) * mean).ravel(),
            }
        )


def panel_frame(model: Any, first_month: int, capacity: np.ndarray) -> pd.DataFrame:
    """Tidy panel rows (applicable topics only) for consecutive months starting at ``first_month``.

    Args:
        model: the model (names, kinds, regions, topics, choices).
        first_month: the month of ``capacity[0]``.
        capacity: months x institutions x topics.

    """
    import pandas as pd

    months = capacity.shape[0]
    inst, topic = np.nonzero(model.applicable)
    month = np.repeat(np.arange(first_month, first_month + months), inst.size)
    start = pd.Period(model.params.simulation.start, freq="M")
    dates = (start + np.maximum(np.arange(first_month + months) - 1, 0)).astype(str)
    tile = lambda a: np.tile(a, months)  # noqa: E731
    categorical = lambda codes, names: pd.Categorical.from_codes(tile(codes), categories=names)  # noqa: E731
    values = capacity[:, inst, topic].astype(float)  # tables are double precision whatever the state's
    lo = np.array([t.indicator_min for t in model.params.topics.values()])[topic]
    hi = np.array([t.indicator_max for t in model.params.topics.values()])[topic]
    return pd.DataFrame(
        {
            "month": month,
            "date": np.asarray(dates)[month] if months else [],
            "institution": tile(inst),
            "name": categorical(inst, model.institution_names),
            "kind": categorical(model.kind[inst], model.kind_names),
            "region": categorical(model.region[inst], model.region_names),
            "topic": categorical(topic, model.topic_names),
            "capacity": values.ravel(),
            "indicator": (lo + (hi - lo) * values).ravel(),
            "selected": tile(model.selected[inst, topic]),
        }
    )


def panel_file_name(seed: int, replicate: int) -> str:
    """File name of a streamed panel: one Parquet file per run."""
    return f"panel_seed{seed}_rep{replicate}.parquet"


class PanelWriter:
    """Streams the tidy panel to a Parquet file (pyarrow), in row groups of whole months.

    Months are buffered up to ``rows_per_group`` rows (about 50 MB) and then written, so memory stays
    bounded whatever the number of months.

    Rows carry ``replicate`` and ``seed`` like :attr:`twinsim.model.results.RunResult.panel`; reading the file
    back gives the same table as the in-memory panel.
    """

    rows_per_group = 1_000_000

    def __init__(self, model: Any, path: Path, seed: int, replicate: int) -> None:
        self.model, self.path, self.seed, self.replicate = model, Path(path), seed, replicate
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer: pq.ParquetWriter | None = None
        self._buffer: list[pa.Table] = []
        self._buffered = 0

    def record(self, month: int, capacity: np.ndarray) -> None:
        """Append month ``month``'s rows to the file.

        The first month's rows are built by :func:`panel_frame`; later months reuse its fixed columns
        (institution, names, kind, region, topic, choice) and replace only month, date and the values.
        """
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            frame = panel_frame(self.model, month, capacity[None])
            frame.insert(0, "seed", self.seed)
            frame.insert(0, "replicate", self.replicate)
            self._table = pa.Table.from_pandas(frame, preserve_index=False)
            self._inst, self._topic = np.nonzero(self.model.applicable)
            self._writer = pq.ParquetWriter(self.path, self._table.schema)
            self._append(self._table)
            return
        values = capacity[self._inst, self._topic].astype(float)
        lo = np.array([t.indicator_min for t in self.model.params.topics.values()])[self._topic]
        hi = np.array([t.indicator_max for t in self.model.params.topics.values()])[self._topic]
        start = pd.Period(self.model.params.simulation.start, freq="M")
        date = str(start + max(month - 1, 0))
        rows = values.size
        table = self._table
        for name, column in (
            ("month", pa.array(np.full(rows, month), type=table.schema.field("month").type)),
            ("date", pa.array([date] * rows, type=table.schema.field("date").type)),
            ("capacity", pa.array(values)),
            ("indicator", pa.array(lo + (hi - lo) * values)),
        ):
            table = table.set_column(table.schema.get_field_index(name), name, column)
        self._append(table)

    def _append(self, table: Any) -> None:
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._buffer and self._writer is not None:
            self._writer.write_table(pa.concat_tables(self._buffer))
            self._buffer, self._buffered = [], 0

    def close(self) -> None:
        """Finish the file."""
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None
