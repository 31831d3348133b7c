"""Posterior samples of calibrated parameters, and carrying them into runs.

A posterior file is a CSV table: one row per accepted parameter set, one column per dotted scenario key
(e.g. ``learning.peer_contact_rate``), optionally a ``weight`` column (non-negative; equal weights when
absent). Replicate ``r`` of an experiment seeded with ``seed`` runs with one row drawn from its own
seed sequence, so the same seed and replicate always get the same row, whatever else runs.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twinsim.errors import ScenarioError
from twinsim.scenario import Scenario, as_scenario, resolve_posterior

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "POSTERIOR_ENTROPY_TAG",
    "REPLICATES_PER_DRAW",
    "SCENARIO_POSTERIOR",
    "Posterior",
    "as_posterior",
    "load_posterior",
    "save_posterior",
    "scenario_for_replicate",
]

#: The default ``posterior`` of the API's run, decomposition, power and sensitivity functions: the scenario's own
#: ``simulation.posterior`` (None when it names none), as the commands do; ``posterior=None`` runs the scenario's
#: own parameter values (the commands' ``--no-posterior``).
SCENARIO_POSTERIOR = "scenario"

# Mixed into the experiment seed so that posterior draws never share a stream with the model's own draws.
POSTERIOR_ENTROPY_TAG = 0x504F5354  # "POST"

#: Largest posterior CSV read (the shipped one is about 100 kB; 50 MB is a million rows of a few columns).
MAX_POSTERIOR_BYTES = 50_000_000

#: Consecutive replicates that share one posterior draw (pairs: the within-draw spread is replicate noise).
REPLICATES_PER_DRAW = 2


class Posterior:
    """A weighted sample of parameter sets: one row per set, one column per dotted scenario key.

    Args:
        samples: the parameter sets: a DataFrame, or a mapping of dotted key -> one value per set.
        weights: one weight per set (they sum to 1 for a posterior read by :func:`load_posterior`).
        source: where the sample comes from (a file path, or ``"calibration"``).

    Attributes:
        keys: the dotted scenario keys the posterior sets, in column order.
        values: sets x keys array of the parameter values (read-only).
        weights: the sets' weights.
        source: where the sample comes from.

    """

    def __init__(self, samples: pd.DataFrame | Mapping[str, Any], weights: Any, source: str = "") -> None:
        columns = samples.columns if hasattr(samples, "columns") else list(samples)
        self.keys: list[str] = [str(k) for k in columns]
        values = np.column_stack([np.asarray(samples[k], dtype=float) for k in columns]) if self.keys else None
        self.values: np.ndarray = np.empty((0, 0)) if values is None else values
        self.values.flags.writeable = False
        self.weights: np.ndarray = np.asarray(weights, dtype=float)
        self.source = source

    @functools.cached_property
    def samples(self) -> pd.DataFrame:
        """The parameter sets as a DataFrame (one column per dotted key)."""
        import pandas as pd

        return pd.DataFrame(self.values, columns=self.keys)

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Posterior({len(self)} parameter sets of {', '.join(self.keys)}; source {self.source!r})"

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (for workers) without the caches: the DataFrame view and the drawn rows."""
        return {k: v for k, v in self.__dict__.items() if k not in {"samples", "_draws", "_cdf"}}

    def point_estimate(self) -> dict[str, float]:
        """Weighted posterior mean of every parameter."""
        return {k: float(np.average(self.values[:, i], weights=self.weights)) for i, k in enumerate(self.keys)}

    def without(self, keys: set[str] | frozenset[str]) -> Posterior | None:
        """The posterior without the columns ``keys`` (None when no column is left).

        Rows and weights are kept, so every replicate draws the same row as before: a design that varies a key
        itself (a sensitivity factor) keeps its value while the other parameters still come from the posterior.
        """
        kept = {k: self.values[:, i] for i, k in enumerate(self.keys) if k not in keys}
        return Posterior(kept, self.weights, self.source) if kept else None

    def row(self, index: int) -> dict[str, float]:
        """Parameter set ``index`` as dotted-key overrides."""
        return dict(zip(self.keys, self.values[index].tolist(), strict=True))

    def overrides(self, scenario: Scenario, index: int) -> dict[str, float]:
        """Parameter set ``index`` as dotted-key overrides of ``scenario``.

        A posterior's rows are the same for every scenario; joint draws of priors map through each scenario's own
        values (:class:`twinsim.experiments.psa.ParameterDraws`).
        """
        return self.row(index)

    def keys_for(self, scenario: Scenario) -> list[str]:
        """The dotted keys this sample sets in ``scenario`` (a posterior: all of its columns)."""
        return list(self.keys)

    def check(self, scenario: Scenario) -> None:
        """Validate the smallest and the largest value of every column against ``scenario``."""
        check_ranges(scenario, dict(zip(self.keys, self.values.T, strict=True)), f"--posterior {self.source}")

    def draw_index(self, seed: int, replicate: int, per_draw: int = REPLICATES_PER_DRAW) -> int:
        """The row replicate ``replicate`` of an experiment seeded ``seed`` uses (deterministic).

        Replicates ``k * per_draw .. (k + 1) * per_draw - 1`` share draw ``k``, so every experiment has replicates
        that differ only in their random numbers and the spread splits into parameter uncertainty and replicate
        noise (law of total variance) whatever the posterior's size.
        """
        draws: dict[tuple[int, int], int] = self.__dict__.setdefault("_draws", {})
        key = (int(seed), replicate // per_draw)
        if key not in draws:
            seq = np.random.SeedSequence([key[0], POSTERIOR_ENTROPY_TAG], spawn_key=(key[1],))
            # Generator.choice(len(self), p=weights), without re-checking and re-summing the weights at every call
            draws[key] = int(np.searchsorted(self._cdf, np.random.default_rng(seq).random(), side="right"))
        return draws[key]

    @functools.cached_property
    def _cdf(self) -> np.ndarray:
        """The weights' cumulative sums, scaled to end at 1 (as ``Generator.choice`` computes them)."""
        cdf = np.cumsum(np.asarray(self.weights, dtype=float))
        cdf /= cdf[-1]
        return cdf


def load_posterior(
    path: str | os.PathLike[str], scenario: Scenario | str | os.PathLike[str] | None = None
) -> Posterior:
    """Read a posterior CSV file; with ``scenario``, check that every column is a key it accepts.

    Args:
        path: a posterior CSV file, or the name of a bundled posterior (``"rwanda_tpn"``; see
            :func:`twinsim.scenario.resolve_posterior`).
        scenario: a scenario (a :class:`~twinsim.Scenario`, a bundled name or a path) to check the columns against.

    Raises:
        ScenarioError: naming the file and what is wrong (missing file or unknown name, no rows, a non-numeric
            column, negative weights, a key or value the scenario rejects).

    """
    path = resolve_posterior(path)
    scenario = None if scenario is None else as_scenario(scenario)
    columns = _read_numeric_csv(path, f"--posterior {path}")
    columns.pop("distance", None)
    weights = columns.pop("weight", None)
    if not columns or not len(next(iter(columns.values()))):
        raise ScenarioError(f"--posterior {path}: needs at least one row and one parameter column")
    weights = np.ones(len(next(iter(columns.values())))) if weights is None else weights
    if (weights < 0).any() or weights.sum() <= 0:
        raise ScenarioError(f"--posterior {path}: column 'weight' must be non-negative numbers, not all zero")
    posterior = Posterior(columns, weights / weights.sum(), str(path))
    if scenario is not None:
        for index in (0, int(np.argmax(posterior.values[:, 0]))):
            _apply(scenario, posterior.row(index), f"--posterior {path} (row {index + 1})")
    return posterior


def as_posterior(ref: Posterior | str | os.PathLike[str] | None, scenario: Scenario | None = None) -> Posterior | None:
    """The one door for a ``posterior`` argument: a :class:`Posterior` (or None) as it is, a file or bundled name read.

    ``"scenario"`` (:data:`SCENARIO_POSTERIOR`, the API's default) is the scenario's own ``simulation.posterior``
    (None when it names none). A file or name is read with :func:`load_posterior` and checked against ``scenario``
    (if given).
    """
    if isinstance(ref, str) and ref == SCENARIO_POSTERIOR:
        if scenario is None:
            raise ScenarioError(f"posterior: {SCENARIO_POSTERIOR!r} means the scenario's own; no scenario was given")
        ref = scenario.simulation.posterior
    if ref is None or isinstance(ref, Posterior):
        return ref
    if isinstance(ref, str | os.PathLike):
        return load_posterior(ref, scenario)
    raise ScenarioError(
        f"posterior: got a {type(ref).__name__}; give a Posterior, a posterior CSV file or a bundled name"
    )


def _read_numeric_csv(path: Path, what: str) -> dict[str, np.ndarray]:
    """The columns of a CSV table of finite numbers (``#`` starts a comment; blank lines are skipped).

    Read with the standard library: the run path stays free of pandas, whose import costs a fifth of a second.
    """
    size = path.stat().st_size
    if size > MAX_POSTERIOR_BYTES:
        raise ScenarioError(
            f"{what}: {size:,} bytes; a posterior file holds at most {MAX_POSTERIOR_BYTES:,} (thin it: a few thousand"
            " weighted rows carry a posterior)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{what}: not a CSV table of parameter sets ({exc})") from None
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    try:
        rows = [row for row in csv.reader(lines) if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ScenarioError(f"{what}: not a CSV table of parameter sets ({exc})") from None
    if not rows:
        raise ScenarioError(f"{what}: not a CSV table of parameter sets (no header line)")
    header = [cell.strip() for cell in rows[0]]
    if len(set(header)) != len(header) or "" in header:
        raise ScenarioError(f"{what}: the header needs distinct, non-empty column names (got {','.join(header)!r})")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ScenarioError(
                f"{what}: not a CSV table of parameter sets (data line {number} has {len(row)} fields, "
                f"the header {len(header)})"
            )
    columns = {}
    for j, name in enumerate(header):
        try:
            values = np.array([float(row[j]) for row in rows[1:]], dtype=float)
        except ValueError:
            values = np.array([np.nan])
        if not np.isfinite(values).all():
            raise ScenarioError(f"{what}: column {name!r} must hold numbers in every row")
        columns[name] = values
    return columns


def save_posterior(posterior: Posterior, path: str | Path, header: str = "") -> Path:
    """Write a posterior as CSV (``header`` lines are written first as ``#`` comments)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    table = posterior.samples.assign(weight=posterior.weights)
    path.write_text(lines + table.to_csv(index=False, float_format="%.6g"), encoding="utf-8")
    return path


def scenario_for_replicate(
    scenario: Scenario, posterior: Posterior | None, seed: int, replicate: int, *, checked: bool = False
) -> Scenario:
    """The scenario replicate ``replicate`` runs: ``scenario`` with its posterior draw applied (if any).

    With ``checked`` (the caller ran :func:`check_posterior_ranges` for this scenario) the draw's values are set
    without validating the whole scenario again.
    """
    if posterior is None:
        return scenario
    index = posterior.draw_index(seed, replicate)
    if checked:
        return scenario.assigned(posterior.overrides(scenario, index))
    return _apply(scenario, posterior.overrides(scenario, index), f"--posterior {posterior.source} (row {index + 1})")


def check_posterior_ranges(scenario: Scenario, posterior: Posterior) -> None:
    """Validate the row of every column's smallest values and the row of its largest against ``scenario``.

    The schema's bounds on these parameters are intervals, so every row's values then lie within them.
    """
    posterior.check(scenario)


def check_ranges(
    scenario: Scenario, samples: Mapping[str, Any], source: str, row_name: Callable[[int], str] | None = None
) -> None:
    """Validate the row of every column's smallest values and the row of its largest against ``scenario``.

    ``samples`` maps dotted keys to their values (a DataFrame does). Where the schema bounds each column's
    parameter by an interval (as it does every per-replicate parameter), every row's values then lie within
    them and may be set with :meth:`Scenario.assigned`. When a value is out of range, the rows are validated one
    by one, so the error names the first row out of range (``row_name(i)``; default ``"<source> (row i + 1)"``).
    """
    columns = {str(k): np.asarray(samples[k], dtype=float) for k in samples}
    try:
        for name, extreme in (("smallest", np.min), ("largest", np.max)):
            _apply(scenario, {k: float(extreme(v)) for k, v in columns.items()}, f"{source} ({name} values)")
    except ScenarioError:
        name_of = row_name or (lambda i: f"{source} (row {i + 1})")
        for i, row in enumerate(zip(*columns.values(), strict=True)):
            _apply(scenario, dict(zip(columns, map(float, row), strict=True)), name_of(i))
        raise


def _apply(scenario: Scenario, overrides: dict[str, float], source: str) -> Scenario:
    return scenario.with_overrides(_typed(scenario, overrides), source)


def _typed(scenario: Scenario, overrides: dict[str, float]) -> dict[str, float | int]:
    """Integer-valued schema fields get integers (a CSV column of whole numbers reads as floats)."""
    data = scenario.model_dump()
    out: dict[str, float | int] = {}
    for key, value in overrides.items():
        node = data
        for part in key.split(".")[:-1]:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        current = node.get(key.split(".")[-1]) if isinstance(node, dict) else None
        is_int = isinstance(current, int) and not isinstance(current, bool)
        out[key] = round(value) if is_int else value
    return out
