"""Experiments: many runs of a scenario, of design points, on any executor, into a result store.

Replicate ``r`` of an experiment seeded with ``seed`` always runs with
``SeedSequence(seed, spawn_key=(r,))``, whatever the number of replicates, the executor or the order
runs finish in (see :func:`run_seed` for the per-point alternative).
"""

from __future__ import annotations

import functools
import gc
import itertools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from twinsim.core.evaluation import Interval, interval95, json_number, survey_months
from twinsim.core.uncertainty import variance_split
from twinsim.errors import TwinsimError
from twinsim.experiments.executors import (
    ExecutorHandle,
    LocalProcesses,
    SerialExecutor,
    imap_unordered,
    open_executor,
    resolve_executor,
)
from twinsim.experiments.experiment import STREAMS, Arm, Experiment, run_seed
from twinsim.experiments.failures import WorkerLostError, lost_worker, retryable
from twinsim.experiments.outputs import NEEDS_AGGREGATES, declared_columns, run_outputs
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, Posterior, as_posterior, scenario_for_replicate
from twinsim.experiments.process import tune_allocator
from twinsim.experiments.resources import MAX_BATCH_ROWS
from twinsim.model import TwinningSimulation
from twinsim.model.replicate import Replicate
from twinsim.model.results import RunResult, simulate, simulate_many
from twinsim.model.twinning import model_signature, per_replicate_parameter
from twinsim.programme.registry import ensure_plugins
from twinsim.scenario import Scenario, as_scenario

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import ArrayLike

__all__ = [
    "STREAMS",
    "Arm",
    "Experiment",
    "ReplicateSet",
    "ResourceError",
    "RunCounts",
    "RunError",
    "execute",
    "experiment_seed",
    "release",
    "run",
    "run_chunk",
    "run_points",
    "run_replicates",
    "run_seed",
    "shared_executor",
]

#: Replicates of one scenario run as one model by default (results are the same as one by one).
BATCH_SIZE = 50

#: Runs per chunk (task) at most: a chunk's runs of one parameter set share a model, and models of a few hundred
#: Rwanda replicates step fastest (each month's arrays still fit a core's cache).
CHUNK_RUNS = 500

#: Chunks per worker when the runs go to a result store (each chunk is a part on disk; without a store, two).
STORE_CHUNKS_PER_WORKER = 8


def summary_only(scenario: Scenario) -> Scenario:
    """``scenario`` recording aggregates instead of the in-memory panel when a run's summary needs no more.

    The summary and the emulated evaluation read the baseline, the endline and the final month, which every
    recording mode keeps; a survey in another month needs the panel, and a streamed panel is kept as asked.
    """
    rec, sim = scenario.recording, scenario.simulation
    kept = {0, sim.months, sim.months + sim.followup_months}
    if rec.mode != "panel" or rec.panel_dir or not set(survey_months(scenario)) <= kept:
        return scenario
    return scenario.assigned({"recording.mode": "aggregate"})  # always valid here: no panel_dir


def batch_size(scenario: Scenario, wanted: int) -> int:
    """How many replicates of ``scenario`` to hold in one model when ``wanted`` are asked for."""
    if wanted <= 1:
        return 1
    return max(1, min(wanted, MAX_BATCH_ROWS // max(scenario.n_institutions, 1)))


class ReplicateSet:
    """Replicates of one scenario: one summary row per run, plus the tables of kept runs.

    Args:
        scenario: the scenario that was run.
        seed: the experiment seed.
        summaries: one row per replicate (see :meth:`RunResult.summary`): a DataFrame, or a mapping of column
            name -> one value per replicate.
        panels: the concatenated panels of every run (when ``keep_tables``, for runs that keep their panel in
            memory: see ``recording`` in the scenario).
        ledgers: the concatenated ledgers of every run (when ``keep_tables``).
        aggregates: concatenated monthly aggregates of every run (when ``keep_tables``).
        topics: the scenario's topics, in order.
        posterior: the posterior file the replicates drew their parameters from, if any.

    Attributes:
        columns: the summaries as arrays, one per column (what every statistic here is computed from; the
            ``summaries`` DataFrame is built from them on first use).

    """

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        summaries: pd.DataFrame | Mapping[str, Any],
        panels: pd.DataFrame | None = None,
        ledgers: pd.DataFrame | None = None,
        aggregates: pd.DataFrame | None = None,
        topics: list[str] | None = None,
        posterior: str | None = None,
    ) -> None:
        self.scenario, self.seed = scenario, seed
        self.columns: dict[str, np.ndarray] = {str(k): np.asarray(summaries[k]) for k in summaries}
        if hasattr(summaries, "iloc"):  # a DataFrame: kept as given
            self.__dict__["summaries"] = summaries
        self.panels, self.ledgers, self.aggregates = panels, ledgers, aggregates
        self.topics = list(topics or [])
        self.posterior = posterior

    @functools.cached_property
    def summaries(self) -> pd.DataFrame:
        """One row per replicate (see :meth:`RunResult.summary`)."""
        import pandas as pd

        return pd.DataFrame(self.columns)

    @property
    def replicates(self) -> int:
        """Number of replicates."""
        return len(next(iter(self.columns.values()), ()))

    def effects_by_topic(self) -> dict[str, dict[str, float]]:
        """Per topic: the mean selected-vs-not effect over replicates, its 95% CI and the mean group sizes.

        The numbers of :meth:`selected_vs_not`, as plain dicts (``estimate``, ``ci95_low``, ``ci95_high``,
        ``n_selected``, ``n_not_selected``).
        """
        out = {}
        for topic in self.topics:
            mean, lo, hi = interval95(self.columns[f"selected_vs_not.{topic}"])
            out[topic] = {
                "estimate": mean,
                "ci95_low": lo,
                "ci95_high": hi,
                "n_selected": float(np.mean(self.columns[f"n_selected.{topic}"])),
                "n_not_selected": float(np.mean(self.columns[f"n_not_selected.{topic}"])),
            }
        return out

    def changes_by_topic(self) -> dict[str, dict[str, float]]:
        """Per topic: the numbers of :meth:`change` as plain dicts (``all``, ``all_ci95_low``, ...)."""
        out = {}
        for topic in self.topics:
            row: dict[str, float] = {}
            for group, key in _CHANGE_COLUMNS:
                mean, lo, hi = interval95(self.columns[f"{key}.{topic}"])
                row |= {group: mean, f"{group}_ci95_low": lo, f"{group}_ci95_high": hi}
            out[topic] = row
        return out

    def selected_vs_not(self) -> pd.DataFrame:
        """Per topic: the mean selected-vs-not effect over replicates, its 95% CI and the group sizes."""
        return _by_topic(self.effects_by_topic())

    def change(self) -> pd.DataFrame:
        """Per topic: the before-after change (endline minus baseline) among all, selected and not selected, 95% CIs.

        Columns ``all``, ``selected``, ``not_selected``, each with ``_ci95_low`` and ``_ci95_high``: the mean over
        replicates of the mean change within each group (NaN for a group that is always empty).
        """
        return _by_topic(self.changes_by_topic())

    def parameter_share(self, column: str) -> float:
        """The share of ``column``'s variance over replicates that comes from parameter uncertainty.

        With a posterior, replicates that drew the same parameter set differ only by the model's randomness: by the
        law of total variance, ``1 - E[within-set variance] / total variance`` is the part the posterior adds.
        NaN without a posterior or with too few repeated parameter sets.
        """
        if "parameter_set" not in self.columns:
            return float("nan")
        return parameter_share(self.columns[column], self.columns["parameter_set"])

    def cost(self) -> Interval:
        """Mean total cost over replicates and its 95% CI: ``(mean, ci95_low, ci95_high)``, fields named."""
        return interval95(self.columns["total_cost"])

    def matching(self) -> dict[str, Any]:
        """Peer ties per replicate and the shares of chosen topics without a twin (ODD 7.18), means over replicates.

        ``unmatched_led_share``: without a twin although a peer led them (every leading peer at ``mentor_load_cap``).
        """

        def mean(key: str) -> float | None:
            values = np.asarray(self.columns[key], dtype=float)
            values = values[np.isfinite(values)]
            return json_number(values.mean()) if values.size else None

        return {
            "ties": mean("ties"),
            "mentor_load_cap": self.scenario.programme.mentor_load_cap,
            "unmatched_share": mean("unmatched_share"),
            "unmatched_led_share": mean("unmatched_led_share"),
        }

    def __repr__(self) -> str:
        kept = "tables kept" if self.ledgers is not None else "summaries only (keep_tables=True keeps the tables)"
        return f"ReplicateSet({self.scenario.name!r}: {self.replicates} replicates, seed {self.seed}, {kept})"

    def to_frame(self) -> pd.DataFrame:
        """Per topic: the selected-vs-not effect with labelled 95% interval columns (see :meth:`selected_vs_not`)."""
        return self.selected_vs_not()

    def plot(self) -> Any:
        """Indicator trajectories by topic choice (needs ``run_replicates(..., keep_tables=True)``).

        Returns:
            The matplotlib Figure (see :func:`twinsim.figures.plots.plot_trajectories`).

        """
        from twinsim.figures.plots import plot_trajectories

        source = self.panels if self.panels is not None else self.aggregates
        if source is None:
            raise ValueError("no trajectories kept: run with run_replicates(..., keep_tables=True)")
        return plot_trajectories(source, scenario=self.scenario)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary that ``twinsim run --json`` prints."""
        evaluation = {
            topic: {
                "estimate": json_number(row["estimate"]),
                "ci95": [json_number(row["ci95_low"]), json_number(row["ci95_high"])],
                "n_selected": json_number(row["n_selected"]),
                "n_not_selected": json_number(row["n_not_selected"]),
            }
            for topic, row in self.effects_by_topic().items()
        }
        mean, lo, hi = self.cost()
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "replicates": self.replicates,
            "months": self.scenario.simulation.months,
            "followup_months": self.scenario.simulation.followup_months,
            "institutions": self.scenario.n_institutions,
            **({"posterior": self.posterior} if self.posterior else {}),
            "evaluation": {"selected_vs_not": evaluation},
            **({"matching": self.matching()} if "unmatched_share" in self.columns else {}),
            "costs": {
                "total": json_number(mean),
                "ci95": [json_number(lo), json_number(hi)],
                "currency": self.scenario.costs.currency,
                "price_year": self.scenario.costs.price_year,
            },
        }


#: The groups of :meth:`ReplicateSet.change` and the summary column each is the mean of.
_CHANGE_COLUMNS = (("all", "change"), ("selected", "change_selected"), ("not_selected", "change_not_selected"))


def _by_topic(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """A table of per-topic rows, indexed by ``topic``."""
    import pandas as pd

    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("topic")


def parameter_share(values: ArrayLike, sets: ArrayLike) -> float:
    """``1 - mean within-set variance / total variance`` of ``values`` grouped by parameter set (NaN if unknown).

    See :func:`twinsim.core.uncertainty.variance_split` (its ``share``).
    """
    return variance_split(values, sets).share


def run_replicates(
    scenario: Scenario | str | Path,
    replicates: int = 1,
    seed: int | None = None,
    *,
    keep_tables: bool = False,
    progress: Callable[[int], None] | None = None,
    posterior: Posterior | str | Path | None = SCENARIO_POSTERIOR,
    batch: int = BATCH_SIZE,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
) -> ReplicateSet:
    """Run ``replicates`` independent replicates of ``scenario``.

    Without ``keep_tables`` the replicates are an experiment of one arm run by the engine (:func:`run`: any
    executor, an optional result store with resume). With ``keep_tables`` every run's tables are kept in this
    process (serially, ``batch`` replicates at a time as one model).

    Args:
        scenario: a :class:`~twinsim.Scenario`, the name of a bundled scenario (``"rwanda_tpn"``) or a TOML path.
        replicates: number of replicates (>= 1).
        seed: experiment seed (default: ``scenario.simulation.seed``).
        keep_tables: also keep every run's panel (if kept in memory), aggregates and ledger (memory
            grows with replicates; runs in this process).
        progress: called with the number of finished runs (e.g. a progress bar's ``advance``).
        posterior: where replicate ``r`` draws its parameter set (its draw for ``(seed, r)``, see
            :func:`twinsim.experiments.posterior.scenario_for_replicate`): by default
            ``"scenario"``, the scenario's own ``simulation.posterior`` (as the command does; none if the scenario
            names none); or a :class:`~twinsim.experiments.posterior.Posterior`, a posterior CSV file or a bundled
            name. ``None`` runs the scenario's own parameter values (replicate noise only; the command's
            ``--no-posterior``).
        batch: with ``keep_tables``, replicates held in one model (blocks of rows); every result is the same
            as run one by one. 0 or 1: one by one.
        executor: where the runs execute (see :func:`run`); not with ``keep_tables``.
        store: a result-store directory the runs are written to as they finish; not with ``keep_tables``.
        resume: with ``store``, compute only the runs it does not hold yet.

    """
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    scenario = as_scenario(scenario)
    posterior = as_posterior(posterior, scenario)
    seed = experiment_seed(scenario, seed)
    source, topics = (posterior.source if posterior is not None else None), list(scenario.topics)
    if not keep_tables:
        experiment = Experiment((Arm(scenario),), replicates, seed, posterior=posterior, name="run")
        if store is None:  # no table of runs: the summaries are gathered as arrays (pandas is not needed)
            columns = _run_columns(experiment, executor, progress)
        else:
            table = run(experiment, executor=executor, store=store, resume=resume, progress=progress)
            columns = table.drop(columns=["error"])
        dropped = {"point", "entropy", "spawn_key"}
        summaries = {k: columns[k] for k in columns if k not in dropped}
        return ReplicateSet(scenario=scenario, seed=seed, summaries=summaries, topics=topics, posterior=source)
    if executor is not None or store is not None:
        raise TwinsimError("--out keeps every run's tables in this process: not with --workers, --scheduler or --store")
    rows: list[dict[str, Any]] = []
    panels: list[pd.DataFrame] = []
    ledgers: list[pd.DataFrame] = []
    aggregates: list[pd.DataFrame] = []
    for result in _replicate_results(scenario, replicates, seed, posterior, batch):
        rows.append(result.summary())
        if result.history is not None:
            panels.append(result.panel)
        aggregates.append(result.aggregates)
        ledgers.append(result.ledger)
        release(result.model)
        if progress is not None:
            progress(1)
    import pandas as pd

    return ReplicateSet(
        scenario=scenario,
        seed=seed,
        summaries=pd.DataFrame(rows),
        panels=pd.concat(panels, ignore_index=True) if panels else None,
        ledgers=pd.concat(ledgers, ignore_index=True),
        aggregates=pd.concat(aggregates, ignore_index=True),
        topics=topics,
        posterior=source,
    )


def _replicate_results(
    scenario: Scenario, replicates: int, seed: int, posterior: Posterior | None, batch: int
) -> Iterator[RunResult]:
    """The replicates' results in order: batches of ``batch`` where possible, else one by one."""
    tune_allocator()
    size = batch_size(scenario, batch) if posterior is None else 1
    if size > 1:
        for first in range(0, replicates, size):
            reps = range(first, min(first + size, replicates))
            yield from simulate_many(scenario, seed, len(reps), first=first, agents=False)
        return
    for r in range(replicates):
        yield simulate(scenario_for_replicate(scenario, posterior, seed, r), seed, r, agents=False)


# --------------------------------------------------------------------------------------------------
# Design points: many runs, on any executor, optionally into a result store


def experiment_seed(scenario: Scenario, seed: int | None = None) -> int:
    """The experiment seed: ``seed``, or the scenario's ``simulation.seed``; a whole number in [0, 2**63)."""
    value = scenario.simulation.seed if seed is None else seed
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not 0 <= value < 2**63:
        raise TwinsimError(f"--seed: must be a whole number from 0 to 2**63 - 1 (got {seed!r})")
    return int(value)


def run_chunk(experiment: Experiment, chunk: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Run a chunk of ``(arm, replicate)`` runs of ``experiment``; one row each (the task of a worker).

    Consecutive runs that differ only in the parameters a model varies per replicate (replicates of one arm, the
    posterior draws of those parameters, and arms such as a calibration's particles that set only them) run as one
    model (blocks of rows). A run that raises gives a row with its seed and ``error`` (the exception) and no
    outputs; the other runs go on: if a model of several replicates raises, its runs are run one by one.
    """
    ensure_plugins(experiment.plugins)  # a worker registers the user's plug-ins before its first run
    rows: list[dict[str, Any]] = []
    for _, group in itertools.groupby(chunk, key=lambda run: _model_key(experiment, *run)):
        runs = list(group)
        size = batch_size(experiment.arms[runs[0][0]].scenario, len(runs))
        for first in range(0, len(runs), size):
            part = runs[first : first + size]
            batched = _run_model(experiment, part, record=False) if len(part) > 1 else None
            if batched is None:
                batched = [row for run in part for row in _run_model(experiment, [run])]
            rows += batched
    return rows


def _model_key(experiment: Experiment, arm: int, replicate: int) -> Any:
    """Runs with equal keys can share a model: their scenarios differ only in per-replicate parameters."""
    if not _posterior_in_one_model(experiment, arm):
        return ("arm", arm, experiment.draw_row(replicate))
    key = ("model", arm)
    if key not in experiment.cache:
        same = experiment.assignable_arms()  # the arms differ only in per-replicate parameters: one signature
        signature = experiment.cache.get("signature") if same else None
        if signature is None:
            signature = model_signature(experiment.arm_scenario(0 if same else arm))
            if same:
                experiment.cache["signature"] = signature
        experiment.cache[key] = (signature, experiment.arms[arm].programme_learning)
    return experiment.cache[key]


@overload
def _run_model(
    experiment: Experiment, runs: list[tuple[int, int]], record: Literal[True] = True
) -> list[dict[str, Any]]: ...
@overload
def _run_model(
    experiment: Experiment, runs: list[tuple[int, int]], record: Literal[False]
) -> list[dict[str, Any]] | None: ...
def _run_model(experiment: Experiment, runs: list[tuple[int, int]], record: bool = True) -> list[dict[str, Any]] | None:
    """The rows of ``runs`` (``(arm, replicate)`` pairs that may share a model) run as one model.

    On an exception: a row with the error for each run when ``record``, else None.
    """
    seqs = [experiment.seed_for(arm, r) for arm, r in runs]
    keys = [_run_keys(experiment, arm, r, seq) for (arm, r), seq in zip(runs, seqs, strict=True)]
    try:
        scenarios = [_run_scenario(experiment, arm, r) for arm, r in runs]
        streamed = scenarios[0].recording.mode == "panel" and bool(scenarios[0].recording.panel_dir)
        results = simulate_many(
            scenarios[0],
            seeds=seqs,
            scenarios=scenarios,
            programme_learning=experiment.arms[runs[0][0]].programme_learning,
            agents=False,
            aggregates=bool(NEEDS_AGGREGATES & set(experiment.outputs)),
            panel_names=[panel_name(experiment, arm, r) for arm, r in runs] if streamed else None,
        )
        rows = []
        for key, result in zip(keys, results, strict=True):
            rows.append({**key, **run_outputs(result, experiment.outputs), "error": None})
            release(result.model)
        return rows
    except Exception as exc:
        if not record:
            return None
        failure = {"error": f"{type(exc).__name__}: {exc}", **({"retryable": True} if retryable(exc) else {})}
        return [{**key, **failure} for key in keys]


def panel_name(experiment: Experiment, arm: int, replicate: int) -> str:
    """The file a run of an experiment streams its panel to (``recording.panel_dir``): one per arm and replicate.

    ``panel_point<P>_rep<R>.parquet``, or ``panel_<LABEL>_rep<R>.parquet`` when the arms have labels (a
    comparison's ``models-0``, ``counterfactual-1`` ...): see :func:`twinsim.experiments.panels.read_panels`.
    """
    label = experiment.arms[arm].label
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in label) if label else f"point{arm}"
    return f"panel_{name}_rep{replicate}.parquet"


def _posterior_in_one_model(experiment: Experiment, arm: int) -> bool:
    """Whether runs of arm ``arm`` that drew different posterior rows (or parameter draws) can share a model.

    They can when the draws set, in that arm's scenario, only parameters a model varies per replicate
    (``learning.rates`` and ``BLOCK_PARAMETERS``).
    """
    if experiment.posterior is None:
        return True
    key = ("one model", arm)
    if key not in experiment.cache:
        keys = experiment.posterior.keys_for(experiment.arm_scenario(arm))
        experiment.cache[key] = all(per_replicate_parameter(k) for k in keys)
    return experiment.cache[key]


def _run_scenario(experiment: Experiment, arm: int, replicate: int) -> Scenario:
    """The scenario a run executes in a model (summary-only recording), once per arm and posterior row."""
    key = ("run", arm, experiment.draw_row(replicate))
    if key not in experiment.cache:
        base = experiment.cache.get(("run", arm))
        if base is None:  # the posterior's ranges were checked on the arm's scenario; recording does not bound them
            base = experiment.cache[("run", arm)] = summary_only(experiment.arm_scenario(arm))
        post = experiment.posterior
        experiment.cache[key] = scenario_for_replicate(base, post, experiment.seed, replicate, checked=True)
    return experiment.cache[key]


def _run_keys(experiment: Experiment, arm: int, replicate: int, seq: np.random.SeedSequence) -> dict[str, Any]:
    label = {"arm": experiment.arms[arm].label} if experiment.labelled else {}
    return {
        "point": arm,
        **label,
        **experiment.arms[arm].overrides,
        "replicate": replicate,
        "seed": experiment.seed,
        "entropy": seq.entropy,
        "spawn_key": ",".join(str(k) for k in seq.spawn_key),
        **({"parameter_set": experiment.draw_row(replicate)} if experiment.posterior is not None else {}),
    }


#: Rows (replicates x institutions) of finished models between two cyclic garbage collections (see :func:`release`).
COLLECT_ROWS = 100_000
_released_rows = [0]


def release(run: TwinningSimulation | Replicate) -> None:
    """Let a finished model (or one replicate of it) be freed.

    Mesa 3.3 keeps every Mesa model alive in ``mesa.Agent._ids`` (mesa issue #3179, fixed upstream by pull
    request #3180): a ``TwinningModel`` is dropped from it. Every model is also a reference cycle (its recorder
    and delivery state point back to it; a Mesa model stores its wrapped ``step`` on itself), so only Python's
    cyclic garbage collector frees it, and that collector counts Python objects, not the NumPy memory they hold:
    a long sweep of vectorised runs would let finished models pile up between collections. Every
    ``COLLECT_ROWS`` released rows trigger one collection, so memory stays bounded whatever the batch size.
    """
    model = run.model if isinstance(run, Replicate) else run
    mesa = sys.modules.get("mesa")  # only a TwinningModel (Mesa) registers there; the engine's runs do not
    ids = getattr(getattr(mesa, "Agent", None), "_ids", None)
    if isinstance(ids, dict):
        ids.pop(model, None)
    _released_rows[0] += run.n
    if _released_rows[0] >= COLLECT_ROWS:
        _released_rows[0] = 0
        gc.collect()


@dataclass(frozen=True)
class RunCounts:
    """What an execution did: runs in the experiment, computed now, found already stored, failed.

    ``retryable`` counts the failed runs that failed for lack of resources (``--resume`` runs them again).
    """

    runs: int
    done: int
    skipped: int
    failed: int
    retryable: int = 0


def execute(
    experiment: Experiment,
    handle: ExecutorHandle,
    sink: Callable[[list[dict[str, Any]]], object],
    *,
    skip: set[tuple[int, int]] | frozenset[tuple[int, int]] = frozenset(),
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    chunks_per_worker: int = 2,
    stored: bool = False,
) -> RunCounts:
    """Run every (arm, replicate) not in ``skip`` on an open executor, handing each finished chunk to ``sink``.

    Runs go to workers in chunks (default: about ``chunks_per_worker`` per worker, at most 500 runs) with at most
    two chunks per worker in flight (one on the serial executor, which computes a chunk when it is submitted), so
    memory does not grow with the number of runs and a killed run loses at most the chunk each worker was
    computing. Rows of runs that failed for lack of resources carry ``retryable``.

    Raises:
        WorkerLostError: a worker ended while running a chunk (killed, out of memory); ``stored``: the finished chunks
            are in a store, and the message says to resume.

    """
    tune_allocator()  # a step's temporary arrays stop costing page faults (see experiments.process)
    arms, replicates = len(experiment.arms), experiment.replicates
    total = arms * replicates
    skipped = sum(1 for p, r in skip if p < arms and r < replicates)
    order = sorted(range(replicates), key=lambda r: (experiment.draw_row(r), r))  # same parameters side by side
    todo = ((p, r) for p in range(arms) for r in order if (p, r) not in skip)
    done = failed = retry = 0
    size = chunk_size or max(1, min(CHUNK_RUNS, -(-(total - skipped) // (chunks_per_worker * handle.workers))))
    tasks = ((experiment, chunk) for chunk in _batched(todo, size))
    pending = 1 if isinstance(handle.executor, SerialExecutor) else 2 * handle.workers
    try:
        for rows in imap_unordered(handle.executor, run_chunk, tasks, max_pending=pending):
            failed += sum(row["error"] is not None for row in rows)
            retry += sum(bool(row.get("retryable")) for row in rows)
            sink(rows)
            done += len(rows)
            if progress is not None:
                progress(len(rows))
    except Exception as exc:
        if not lost_worker(exc):
            raise
        then = "the finished runs are stored: run again with --resume" if stored else "run again"
        raise WorkerLostError(
            f"a worker was lost ({type(exc).__name__}: killed, or out of memory) after {done:,} of "
            f"{total - skipped:,} runs; {then} (with fewer --workers if memory ran out)"
        ) from None
    return RunCounts(runs=total, done=done, skipped=skipped, failed=failed, retryable=retry)


def _batched(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def run(
    experiment: Experiment,
    *,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
    errors: str = "raise",
    chunk_size: int | None = None,
    design: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Run an experiment: every (arm, replicate), on any executor, optionally into a result store.

    The result depends only on the experiment, never on the executor, the worker count, the chunking or the
    order runs finish in. The executor is opened (a cluster reached and checked) before the store is created,
    so a bad address leaves nothing behind.

    Args:
        experiment: what to run (:class:`~twinsim.experiments.experiment.Experiment`).
        executor: ``None`` (serial), a worker count, ``"dask"``, a scheduler address or an executor object
            (see :func:`twinsim.experiments.executors.open_executor`).
        store: a result-store directory: runs are written there as they finish (see
            :mod:`twinsim.experiments.store`) and the table is read back from it.
        resume: with ``store``, compute only the runs it does not hold yet.
        progress: called with the number of runs of each finished chunk.
        errors: ``"raise"``: after all runs, raise :class:`RunError` if any run raised; ``"record"``:
            return failed runs as rows with their ``error``.
        chunk_size: runs per task (default: chosen from the number of runs and workers).
        design: how the arms were made (a sweep's design), recorded in the store's manifest.

    Returns:
        One tidy row per (arm, replicate), sorted: ``point`` (the arm), ``arm`` (its label, when arms have
        labels), the arm's overrides (dotted keys), ``replicate``, ``seed``, ``entropy`` and ``spawn_key`` (the
        run's ``SeedSequence``), the outputs, and ``error`` (``None`` unless the run raised).

    """
    if errors not in {"raise", "record"}:
        raise ValueError("errors must be 'raise' or 'record'")
    import pandas as pd

    from twinsim.experiments.store import ResultStore, tidy_runs

    leading = ["arm"] if experiment.labelled else []
    order = [name for name, _ in store_columns(experiment)]
    with open_executor(executor) as handle:
        if store is None:
            frames: list[pd.DataFrame] = []

            def keep(rows: list[dict[str, Any]]) -> None:
                frames.append(pd.DataFrame([{k: v for k, v in row.items() if k != "retryable"} for row in rows]))

            counts = execute(experiment, handle, keep, chunk_size=chunk_size, progress=progress)
            table = tidy_runs(frames, leading + experiment.params, order=order)
            retry = counts.retryable
        else:
            manifest = store_manifest(experiment, design)
            result_store = ResultStore.create(store, manifest, resume)
            try:
                skip = result_store.done() if resume else set()
                execute(  # each chunk is a part on disk: smaller chunks, so a killed run loses less
                    experiment,
                    handle,
                    result_store.write,
                    skip=skip,
                    chunk_size=chunk_size,
                    progress=progress,
                    chunks_per_worker=STORE_CHUNKS_PER_WORKER,
                    stored=True,
                )
                table = result_store.runs()
                retry = result_store.retryable()
            finally:
                result_store.close()
    if errors == "raise" and table["error"].notna().any():
        failed = table[table["error"].notna()]
        if retry == len(failed):  # every failure was the machine's: not a bug, and --resume retries them
            first = failed.iloc[0]
            where = f"stored in {store}: run again with --resume" if store is not None else "run again"
            raise ResourceError(
                f"{len(failed)} run(s) failed for lack of resources (first: point {first['point']}, replicate "
                f"{first['replicate']}: {first['error']}); {where} to retry them (with fewer --workers or replicates "
                "per task if memory ran out)"
            )
        raise _run_error(len(failed), failed.iloc[0])
    return table


def store_columns(experiment: Experiment) -> list[list[str]]:
    """The columns a result store of ``experiment`` declares (see :func:`twinsim.experiments.store.declared_schema`).

    The run keys of every arm and every output its families may report for any arm's scenario: known before
    anything runs, whatever finishes first.
    """
    from twinsim.experiments.store import declared_schema

    cached = experiment.cache.get("columns")
    if cached is None:
        keys = [_run_keys(experiment, arm, 0, experiment.seed_for(arm, 0)) for arm in range(len(experiment.arms))]
        shapes: dict[Any, Scenario] = {}
        for arm in range(len(experiment.arms)):
            sc = experiment.arm_scenario(arm)
            sim = sc.simulation
            shape = (tuple(sc.topics), sim.months + sim.followup_months, sc.n_institutions,
                     tuple(t.coverage_share > 0 for t in sc.topics.values()))  # fmt: skip
            shapes.setdefault(shape, sc)
        outputs = declared_columns(list(shapes.values()), experiment.outputs)
        cached = experiment.cache["columns"] = declared_schema(keys, outputs)
    return cached


def store_manifest(experiment: Experiment, design: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a result store of ``experiment``: its identity, its design and its declared columns."""
    return {**experiment.manifest(), **({"design": design} if design else {}), "columns": store_columns(experiment)}


def _run_columns(
    experiment: Experiment, executor: Any = None, progress: Callable[[int], None] | None = None
) -> dict[str, np.ndarray]:
    """Run ``experiment`` (no store) and gather its rows as columns, sorted by (point, replicate).

    The same rows as :func:`run`'s table, without building a DataFrame; a failed run raises :class:`RunError`.
    """
    rows: list[dict[str, Any]] = []
    with open_executor(executor) as handle:
        execute(experiment, handle, rows.extend, progress=progress)
    failed = [row for row in rows if row["error"] is not None]
    if failed:
        first = min(failed, key=lambda row: (row["point"], row["replicate"]))
        if all(row.get("retryable") for row in failed):
            raise ResourceError(
                f"{len(failed)} run(s) failed for lack of resources (first: replicate {first['replicate']}: "
                f"{first['error']}); run again (with fewer --workers if memory ran out)"
            )
        raise _run_error(len(failed), first)
    rows.sort(key=lambda row: (row["point"], row["replicate"]))
    return {key: np.array([row[key] for row in rows]) for key in rows[0] if key != "error"}


def _run_error(count: int, first: Mapping[str, Any]) -> RunError:
    return RunError(
        f"{count} run(s) raised; first: point {first['point']}, replicate {first['replicate']}, seed "
        f"{first['seed']} (spawn_key {first['spawn_key']}): {first['error']}"
    )


@contextmanager
def shared_executor(engine: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Engine options whose executor is opened once for several experiments (one process pool, one connection).

    An analysis that runs several experiments in a row (a calibration's design, refinement and checks; a
    comparison's budget steps) pays the start of worker processes once instead of once per experiment.
    """
    engine = dict(engine or {})
    spec = resolve_executor(engine.get("executor"))
    if not isinstance(spec, LocalProcesses):  # serial needs nothing; a Dask client is shared already
        yield engine
        return
    with spec.open() as handle:
        engine["executor"] = handle.executor
        yield engine


def run_points(
    scenario: Scenario,
    points: list[dict[str, Any]],
    replicates: int = 1,
    seed: int | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
    streams: str = "common",
    errors: str = "raise",
    chunk_size: int | None = None,
    posterior: Posterior | None = None,
) -> pd.DataFrame:
    """Run every design point (a dict of dotted-key overrides) ``replicates`` times (see :func:`run`).

    Replicate ``r`` of every point uses the same ``SeedSequence(seed, spawn_key=(r,))``: design points
    share random draws (common random numbers), so differences between points are not noise
    (``streams="independent"`` gives each point its own streams instead).
    """
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    seed = experiment_seed(scenario, seed)
    experiment = Experiment.from_points(scenario, points, replicates, seed, streams=streams, posterior=posterior)
    options = {"executor": executor, "store": store, "resume": resume, "progress": progress}
    return run(experiment, errors=errors, chunk_size=chunk_size, **options)


class RunError(RuntimeError):
    """One or more runs of an experiment raised (their rows, with seeds and errors, are in the store)."""


class ResourceError(RunError, TwinsimError):
    """Runs failed for lack of resources only (memory, disk): stored as retryable, run again by ``--resume``."""
