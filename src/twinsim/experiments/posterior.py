"""Posterior samples of calibrated parameters, and carrying them into runs.

A posterior file is a CSV table: one row per accepted parameter set, one column per dotted scenario key
(e.g. ``learning.peer_contact_rate``), optionally a ``weight`` column (non-negative; equal weights when
absent). Replicate ``r`` of an experiment seeded with ``seed`` runs with one row drawn from its own
seed sequence, so the same seed and replicate always get the same row, whatever else runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from twinsim.errors import ScenarioError
from twinsim.scenario import Scenario

__all__ = [
    "POSTERIOR_ENTROPY_TAG",
    "REPLICATES_PER_DRAW",
    "Posterior",
    "load_posterior",
    "save_posterior",
    "scenario_for_replicate",
]

# Mixed into the experiment seed so that posterior draws never share a stream with the model's own draws.
POSTERIOR_ENTROPY_TAG = 0x504F5354  # "POST"

#: Consecutive replicates that share one posterior draw (pairs: the within-draw spread is replicate noise).
REPLICATES_PER_DRAW = 2


@dataclass(frozen=True)
class Posterior:
    """A sample of parameter sets: ``samples`` has one column per dotted key; ``weights`` sum to 1."""

    samples: pd.DataFrame
    weights: np.ndarray
    source: str = ""

    @property
    def keys(self) -> list[str]:
        """The dotted scenario keys the posterior sets."""
        return list(self.samples.columns)

    def __len__(self) -> int:
        return len(self.samples)

    def point_estimate(self) -> dict[str, float]:
        """Weighted posterior mean of every parameter."""
        return {k: float(np.average(self.samples[k], weights=self.weights)) for k in self.keys}

    def without(self, keys: set[str] | frozenset[str]) -> Posterior | None:
        """The posterior without the columns ``keys`` (None when no column is left).

        Rows and weights are kept, so every replicate draws the same row as before: a design that varies a key
        itself (a sensitivity factor) keeps its value while the other parameters still come from the posterior.
        """
        kept = [k for k in self.keys if k not in keys]
        if not kept:
            return None
        return Posterior(self.samples[kept], self.weights, self.source)

    def row(self, index: int) -> dict[str, float]:
        """Parameter set ``index`` as dotted-key overrides."""
        return dict(zip(self.keys, self._values[index].tolist(), strict=True))

    @functools.cached_property
    def _values(self) -> np.ndarray:
        return self.samples.to_numpy(dtype=float)

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


def load_posterior(path: str | Path, scenario: Scenario | None = None) -> Posterior:
    """Read a posterior CSV file; with ``scenario``, check that every column is a key it accepts.

    Raises:
        ScenarioError: naming the file and what is wrong (missing file, no rows, a non-numeric column,
            negative weights, a key or value the scenario rejects).

    """
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"--posterior {path}: no such file")
    try:
        frame = pd.read_csv(path, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"--posterior {path}: not a CSV table of parameter sets ({exc})") from None
    frame = frame.drop(columns=[c for c in ("distance",) if c in frame.columns])
    weights = frame.pop("weight").to_numpy(float) if "weight" in frame.columns else np.ones(len(frame))
    if frame.empty or frame.shape[1] == 0:
        raise ScenarioError(f"--posterior {path}: needs at least one row and one parameter column")
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c]) or frame[c].isna().any()]
    if bad:
        raise ScenarioError(f"--posterior {path}: column {bad[0]!r} must hold numbers in every row")
    if (weights < 0).any() or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ScenarioError(f"--posterior {path}: column 'weight' must be non-negative numbers, not all zero")
    posterior = Posterior(frame.reset_index(drop=True), weights / weights.sum(), str(path))
    if scenario is not None:
        for index in (0, int(np.argmax(frame.iloc[:, 0].to_numpy()))):
            _apply(scenario, posterior.row(index), f"--posterior {path} (row {index + 1})")
    return posterior


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
        return scenario.assigned(posterior.row(index))
    return _apply(scenario, posterior.row(index), f"--posterior {posterior.source} (row {index + 1})")


def check_posterior_ranges(scenario: Scenario, posterior: Posterior) -> None:
    """Validate the row of every column's smallest values and the row of its largest against ``scenario``.

    The schema's bounds on these parameters are intervals, so every row's values then lie within them.
    """
    check_ranges(scenario, posterior.samples, f"--posterior {posterior.source}")


def check_ranges(scenario: Scenario, samples: pd.DataFrame, source: str) -> None:
    """Validate the row of every column's smallest values and the row of its largest against ``scenario``.

    Where the schema bounds each column's parameter by an interval (as it does every per-replicate parameter),
    every row's values then lie within them and may be set with :meth:`Scenario.assigned`.
    """
    for name, row in (("smallest", samples.min()), ("largest", samples.max())):
        _apply(scenario, {k: float(v) for k, v in row.items()}, f"{source} ({name} values)")


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
