"""Comparing delivery models for a donor: effect, cost, cost-effectiveness, equity, what remains.

Every model in a comparison runs on the same replicates: replicate ``r`` of every scenario uses
``run_seed_sequence(seed, r)``, so all models meet the same population, topic choices and turnover
(common random numbers), and differences between them are not noise.

The *programme effect* of a model in replicate ``r`` is its mean indicator gain (indicator points, averaged
over every institution and applicable topic) minus that of its counterfactual: the same scenario with
``programme.delivery_model = "none"``, run on the same replicate. It is measured at the end of the programme
(``effect``) and at the end of the follow-up (``sustained_effect``). Costs are the runs' ledger totals.
Incremental cost-effectiveness ratios are taken against the reference model (the ``none`` scenario when one
is given, otherwise the first); dominance is judged among all models on mean cost and mean effect.

With a ``budget``, each model's activity volume (``programme.volume``) is solved so that its mean cost over
the replicates lands on the budget (within 0.5%): costs are not proportional to volume (the launch workshop
is fixed), so the volume is found by the secant method on the replicates themselves.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from twinsim.analysis import economics, voi
from twinsim.analysis.discovery import Region, discover_regions
from twinsim.core.evaluation import interval95, json_number
from twinsim.core.uncertainty import VarianceSplit, variance_split
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import run, shared_executor
from twinsim.experiments.experiment import Arm, Experiment
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, Posterior, as_posterior
from twinsim.experiments.psa import ParameterDraws, parameter_uncertainty
from twinsim.model.population import Structure
from twinsim.programme.costs import COST_CATEGORIES
from twinsim.scenario import Scenario, as_scenario

__all__ = ["Comparison", "ModelRuns", "compare", "volume_for_budget"]

BUDGET_TOLERANCE = 0.005
#: Fewest parameter draws for value of information and scenario discovery (``2 * MIN_DRAWS`` replicates).
MIN_DRAWS = 25
MAX_VOLUME = 100.0

Progress = Callable[[int], None] | None


@dataclass(repr=False)
class ModelRuns:
    """The replicates of one delivery model in a comparison.

    Attributes:
        name: the model's label (the scenario's name, made unique).
        ref: the scenario as given (path or bundled name).
        scenario: the scenario as run (with the solved ``programme.volume`` under a budget).
        runs: one row per replicate: gain, gain_selected, sustained_gain, equity_change, cost, ties and the
            counterfactual's values (``cf_*``) and the programme effects (``effect``, ``effect_selected``,
            ``sustained_effect``, ``equity_effect``); with a posterior, ``parameter_set`` (the posterior row the
            replicate ran, the same for every model).
        trajectories: replicates x months mean indicator over applicable cells (month 0: baseline).
        costs_by_activity: mean cost per activity type and category over replicates.
        costs_by_institution: mean cost allocated to each institution over replicates.
        budgeted: whether the volume was solved for a budget.

    """

    name: str
    ref: str
    scenario: Scenario
    runs: pd.DataFrame
    trajectories: np.ndarray
    costs_by_activity: pd.DataFrame
    costs_by_institution: pd.DataFrame
    budgeted: bool = False

    @property
    def delivery_model(self) -> str:
        """The registered delivery model of the scenario."""
        return self.scenario.programme.delivery_model

    def interval(self, column: str) -> tuple[float, float, float]:
        """Mean of a per-replicate column and the 95% confidence interval of that mean."""
        return interval95(self.runs[column])

    def split(self, column: str) -> VarianceSplit:
        """The variance of a per-replicate column over replicates, split into parameter uncertainty and noise.

        See :func:`twinsim.core.uncertainty.variance_split`: the parameter share is 0 without a posterior.
        """
        return self.split_of(self.runs[column])

    def split_of(self, values: pd.Series | np.ndarray) -> VarianceSplit:
        """:meth:`split` of any per-replicate values (one per row of ``runs``)."""
        sets = self.runs["parameter_set"] if "parameter_set" in self.runs else None
        return variance_split(values, sets)

    def __repr__(self) -> str:
        effect, lo, hi = self.interval("effect")
        return (
            f"ModelRuns({self.name!r}: {self.delivery_model}, {len(self.runs)} replicates, "
            f"effect {effect:+.2f} [{lo:+.2f}, {hi:+.2f}], cost {self.runs['cost'].mean():,.0f})"
        )


@dataclass(repr=False)
class Comparison:
    """The result of :func:`compare`: per-model replicates and the cost-effectiveness analysis.

    ``table()`` (alias ``to_frame()``) has one row per model; ``plot()`` draws the cost-effectiveness plane,
    the acceptability curve or the trajectories.
    """

    models: list[ModelRuns]
    reference: str
    seed: int
    replicates: int
    budget: float | None
    wtp: np.ndarray = field(repr=False)
    posterior: str | None = None
    uncertainty: str = "none"
    draws: Posterior | None = field(default=None, repr=False)
    partner_gains: bool = False

    def __repr__(self) -> str:
        budget = f", budget {self.budget:,.0f}" if self.budget is not None else ""
        names = ", ".join(m.name for m in self.models)
        return (
            f"Comparison({len(self.models)} models [{names}], reference {self.reference!r}, "
            f"{self.replicates} replicates, seed {self.seed}{budget})"
        )

    def model(self, name: str) -> ModelRuns:
        """The model with label ``name``."""
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(f"no model {name!r}; models: {', '.join(m.name for m in self.models)}")

    def to_frame(self) -> pd.DataFrame:
        """The comparison table, one row per model (the same as :meth:`table`)."""
        return self.table()

    def plot(self, kind: str = "ce_plane", wtp: float | None = None) -> Any:
        """A figure of the comparison.

        Args:
            kind: ``"ce_plane"`` (incremental cost against effect), ``"ceac"`` (acceptability curves),
                ``"effects"`` (effect at the end and after the follow-up, and cost, per model) or
                ``"trajectories"`` (mean indicator per month and model).
            wtp: a willingness to pay per point to draw on the plane or the curve.

        Returns:
            The matplotlib Figure.

        """
        from twinsim.figures import comparison as figures

        if kind == "ce_plane":
            return figures.plot_ce_plane(self, wtp=wtp)
        if kind == "ceac":
            return figures.plot_ceac(self, wtp=wtp)
        if kind == "effects":
            return figures.plot_effects(self)
        if kind == "trajectories":
            return figures.plot_model_trajectories(self)
        raise ValueError(f"kind: 'ce_plane', 'ceac', 'effects' or 'trajectories' (got {kind!r})")

    def _matrix(self, column: str) -> np.ndarray:
        return np.column_stack([m.runs[column].to_numpy() for m in self.models])

    def table(self) -> pd.DataFrame:
        """One row per model: effects with 95% intervals, cost, cost per point, ICER, dominance, equity, ties.

        ``effect``, ``effect_low`` and ``effect_high`` (and the same for the other outcomes) are the mean over
        replicates and the 95% confidence interval of that mean (not the range of single replicates: see
        :meth:`probability_best`). ``effect_param_share``, ``sustained_effect_param_share`` and
        ``cost_param_share`` are the shares of the outcome's variance over replicates that are parameter
        uncertainty (posterior draws) rather than replicate noise (0 without a posterior, NaN when not
        estimable; see :func:`twinsim.core.uncertainty.variance_split`).
        ``icer`` is against the reference; ``icer_frontier`` against the next less effective model on the
        cost-effectiveness frontier (NaN for dominated models and the least effective frontier model).
        """
        ref = self.model(self.reference)
        costs = np.array([m.runs["cost"].mean() for m in self.models])
        effects = np.array([m.runs["effect"].mean() for m in self.models])
        labels = economics.dominance(costs, effects)
        sequential = economics.frontier_icers(costs, effects)
        rows = []
        for m, label, cost, effect, step in zip(self.models, labels, costs, effects, sequential, strict=True):
            d_cost, d_effect = cost - ref.runs["cost"].mean(), effect - ref.runs["effect"].mean()
            dominated_by_ref = m is not ref and d_cost >= 0 and d_effect <= 0
            row: dict[str, Any] = {"name": m.name, "scenario": m.ref, "delivery_model": m.delivery_model}
            row["volume"] = m.scenario.programme.volume
            for col in ("effect", "effect_selected", "sustained_effect", "gain", "gain_selected", "cost"):
                mean, lo, hi = m.interval(col)
                row |= {col: mean, f"{col}_low": lo, f"{col}_high": hi}
            for col in ("effect", "sustained_effect", "cost"):
                row[f"{col}_param_share"] = m.split(col).share
            row["cost_per_point"] = cost / effect if effect > 0 else np.nan
            people = m.runs["people_reached"].mean()
            row["people_reached"] = people
            row["cost_per_person"] = cost / people if people > 0 else np.nan
            row["icer"] = np.nan if m is ref or dominated_by_ref else economics.icer(d_cost, d_effect)
            row["dominance"] = label
            row["icer_frontier"] = step
            row["equity_change"] = m.runs["equity_change"].mean()
            row["equity_effect"] = m.runs["equity_effect"].mean()
            row["ties"] = m.runs["ties"].mean()
            rows.append(row)
        return pd.DataFrame(rows).set_index("name")

    def decision_wtp(self) -> float:
        """The willingness to pay per point a donor decides at by default: the largest ICER on the frontier."""
        costs = np.array([m.runs["cost"].mean() for m in self.models])
        effects = np.array([m.runs["effect"].mean() for m in self.models])
        frontier = np.asarray(economics.frontier_icers(costs, effects), dtype=float)
        frontier = frontier[np.isfinite(frontier) & (frontier > 0)]
        return float(frontier.max()) if frontier.size else 0.0

    def frontier_wtps(self) -> list[float]:
        """The willingness to pay per point at which the best buy changes in expectation (the frontier's ICERs)."""
        costs = np.array([m.runs["cost"].mean() for m in self.models])
        effects = np.array([m.runs["effect"].mean() for m in self.models])
        frontier = np.asarray(economics.frontier_icers(costs, effects), dtype=float)
        return sorted({float(v) for v in frontier if np.isfinite(v) and v > 0})

    def decision_points(self) -> list[float]:
        """One willingness to pay per stretch of the frontier.

        Between consecutive ICERs their geometric mean, above the largest twice it: a donor whose value of a point
        lies in a stretch has one best buy in expectation.
        """
        icers = self.frontier_wtps()
        points = [float(np.sqrt(a * b)) for a, b in itertools.pairwise(icers)]
        return [*points, 2.0 * icers[-1]] if icers else []

    def best_buy(self, wtps: list[float] | None = None) -> pd.DataFrame:
        """Per model (rows) and willingness to pay per point (columns): how often it is the best buy.

        The best buy of a replicate (a posterior draw, with a posterior) is the model with the highest net monetary
        benefit ``wtp * effect - cost``; default ``wtps``: :meth:`decision_points`, one per stretch of the
        frontier, so the table shows how robust each stretch's best buy is.
        """
        wtps = self.decision_points() if wtps is None else [float(w) for w in wtps]
        effects, costs = self._matrix("effect"), self._matrix("cost")
        n, k = effects.shape
        columns = {w: np.bincount(np.argmax(w * effects - costs, axis=1), minlength=k) / n for w in wtps}
        return pd.DataFrame(columns, index=pd.Index([m.name for m in self.models], name="name"))

    def probability_best(self, wtp: float | None = None) -> pd.DataFrame:
        """Per model: how often it is the most effective, and the most cost-effective at ``wtp``.

        Shares of the replicates (each a posterior draw when the comparison drew from a posterior, so the shares
        carry parameter uncertainty as well as replicate noise): the model with the largest effect, and the one
        with the highest net monetary benefit ``wtp * effect - cost`` (default ``wtp``: :meth:`decision_wtp`).
        Also the 95% range of the model's effect over replicates (``effect_range_low`` and ``effect_range_high``:
        where 95% of single runs of the programme land, a predictive range; not the interval of its mean), and
        ``net_benefit_param_share``: the share of the variance of the model's net monetary benefit at ``wtp`` over
        replicates that is parameter uncertainty (0 without a posterior; NaN when not estimable or constant).
        """
        wtp = self.decision_wtp() if wtp is None else float(wtp)
        effects, costs = self._matrix("effect"), self._matrix("cost")
        n, k = effects.shape
        benefit = wtp * effects - costs
        most_effective = np.bincount(np.argmax(effects, axis=1), minlength=k) / n
        most_cost_effective = np.bincount(np.argmax(benefit, axis=1), minlength=k) / n
        low, high = np.percentile(effects, [2.5, 97.5], axis=0)
        return pd.DataFrame(
            {
                "p_most_effective": most_effective,
                "p_most_cost_effective": most_cost_effective,
                "wtp": wtp,
                "effect_range_low": low,
                "effect_range_high": high,
                "net_benefit_param_share": [m.split_of(benefit[:, i]).share for i, m in enumerate(self.models)],
            },
            index=pd.Index([m.name for m in self.models], name="name"),
        )

    def ranking(self, wtp: float | None = None) -> dict[str, Any]:
        """How robust the ranking is: the leader and the runner-up on effect and on net benefit at ``wtp``.

        For ``"most_effective"`` (by mean effect) and ``"most_cost_effective"`` (by mean net monetary benefit
        ``wtp * effect - cost``, default ``wtp``: :meth:`decision_wtp`): ``leader`` and ``runner_up`` (None with
        one model), ``p_leader_best`` (the share of replicates in which the leader is best of all models),
        ``reversal`` (the share in which the runner-up beats the leader) and ``difference_param_share`` (the
        share of the variance of their difference over replicates that is parameter uncertainty). ``basis`` says
        what the replicates are: ``"posterior draws"`` or ``"replicates"`` (no posterior).
        """
        wtp = self.decision_wtp() if wtp is None else float(wtp)
        effects, costs = self._matrix("effect"), self._matrix("cost")
        basis = {"full": "parameter draws", "calibrated": "posterior draws"}.get(self.uncertainty, "replicates")
        out: dict[str, Any] = {"basis": basis, "wtp": wtp}
        for key, values in (("most_effective", effects), ("most_cost_effective", wtp * effects - costs)):
            order = np.argsort(-values.mean(axis=0), kind="stable")
            lead = int(order[0])
            entry: dict[str, Any] = {
                "leader": self.models[lead].name,
                "p_leader_best": float(np.mean(np.argmax(values, axis=1) == lead)),
                "runner_up": None,
                "reversal": float("nan"),
                "difference_param_share": float("nan"),
            }
            if len(order) > 1:
                second = int(order[1])
                entry["runner_up"] = self.models[second].name
                entry["reversal"] = float(np.mean(values[:, second] > values[:, lead]))
                difference = values[:, lead] - values[:, second]
                entry["difference_param_share"] = self.models[lead].split_of(difference).share
            out[key] = entry
        return out

    def ceac(self) -> pd.DataFrame:
        """Cost-effectiveness acceptability: P(highest net monetary benefit) per willingness to pay and model."""
        prob = economics.acceptability(self._matrix("effect"), self._matrix("cost"), self.wtp)
        frame = pd.DataFrame(prob, columns=[m.name for m in self.models])
        frame.insert(0, "wtp", self.wtp)
        return frame

    def acceptability_frontier(self) -> pd.DataFrame:
        """The cost-effectiveness acceptability frontier (Fenwick et al. 2001).

        Per willingness to pay: the model with the highest expected net benefit (the best buy in expectation) and
        the probability that it is the best.
        """
        ceac = self.ceac()
        effects, costs = self._matrix("effect").mean(axis=0), self._matrix("cost").mean(axis=0)
        names = [m.name for m in self.models]
        best = [names[int(np.argmax(w * effects - costs))] for w in self.wtp]
        probability = [float(ceac.loc[i, name]) for i, name in enumerate(best)]
        return pd.DataFrame({"wtp": self.wtp, "model": best, "probability": probability})

    def replicate_table(self) -> pd.DataFrame:
        """Every model's per-replicate outcomes, stacked (columns ``model`` and ``delivery_model`` first)."""
        frames = []
        for m in self.models:
            frame = m.runs.copy()
            frame.insert(0, "delivery_model", m.delivery_model)
            frame.insert(0, "model", m.name)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def costs_by_activity(self) -> pd.DataFrame:
        """Mean cost per model, activity type and cost category."""
        return pd.concat([m.costs_by_activity.assign(model=m.name) for m in self.models], ignore_index=True)

    def costs_by_institution(self) -> pd.DataFrame:
        """Mean cost per model and institution."""
        return pd.concat([m.costs_by_institution.assign(model=m.name) for m in self.models], ignore_index=True)

    def draw_table(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Per parameter draw: the uncertain inputs' values, each model's mean effect and mean cost.

        Replicates that ran the same draw (a pair) are averaged, so what remains between draws is mostly parameter
        uncertainty. Returns ``(inputs, effects, costs)``: inputs a DataFrame (draws x uncertain inputs, indexed by
        ``parameter_set``), effects and costs draws x models (in the order of :attr:`models`).

        Raises:
            TwinsimError: when the comparison drew no parameters (``uncertainty="none"``).

        """
        if self.draws is None or "parameter_set" not in self.models[0].runs:
            raise TwinsimError("no parameter draws: run the comparison with uncertainty 'full' or 'calibrated'")
        sets = self.models[0].runs["parameter_set"].to_numpy()
        order, index = np.unique(sets, return_inverse=True)
        counts = np.bincount(index)

        def means(column: str) -> np.ndarray:
            return np.column_stack([np.bincount(index, m.runs[column].to_numpy()) / counts for m in self.models])

        if isinstance(self.draws, ParameterDraws):
            inputs = self.draws.table().loc[order]
        else:
            inputs = self.draws.samples.iloc[order].set_axis(pd.Index(order, name="parameter_set"))
        return inputs, means("effect"), means("cost")

    def psa_samples(self) -> pd.DataFrame:
        """The PSA sample in long form: one row per draw and model (``draw``, ``model``, ``effect``, ``cost``).

        ``effect`` is in points of the mean indicator, ``cost`` in the scenario's currency; BCEA's ``e`` and ``c``
        matrices and dampack's ``make_psa_obj`` tables are its wide forms (see :meth:`write_psa`).
        """
        inputs, effects, costs = self.draw_table()
        names = [m.name for m in self.models]
        return pd.DataFrame(
            {
                "draw": np.repeat(inputs.index.to_numpy(), len(names)),
                "model": np.tile(names, len(inputs)),
                "effect": effects.ravel(),
                "cost": costs.ravel(),
            }
        )

    def write_psa(self, folder: str | Path) -> list[Path]:
        """Write the PSA sample as R's BCEA and dampack read it; returns the paths.

        ``psa_effects.csv`` and ``psa_costs.csv`` (draws x models, one column per model) and ``psa_parameters.csv``
        (draws x uncertain inputs).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        inputs, effects, costs = self.draw_table()
        names = [m.name for m in self.models]
        paths = []
        for name, frame in (
            ("psa_effects.csv", pd.DataFrame(effects, columns=names)),
            ("psa_costs.csv", pd.DataFrame(costs, columns=names)),
            ("psa_parameters.csv", inputs.reset_index(drop=True)),
        ):
            frame.to_csv(folder / name, index=False)
            paths.append(folder / name)
        return paths

    def value_of_information(
        self, wtps: Sequence[float] | None = None, population: tuple[float, int, float] = (1.0, 10, 0.03)
    ) -> voi.VoiResult:
        """EVPI and EVPPI (per uncertain input and per group) over willingness to pay per point.

        Args:
            wtps: willingness to pay per point (default: the acceptability curve's grid).
            population: ``(programmes per year, years, discount rate)`` the information would inform; the
                population EVPI is the per-programme EVPI times :func:`twinsim.analysis.voi.population_multiplier`.

        Estimated from the draws by regression (Strong, Oakley & Brennan 2014; see :mod:`twinsim.analysis.voi`):
        the EVPI as the EVPPI of all inputs together, so replicate noise, which no study removes, does not count.

        """
        grid = np.asarray(self.wtp if wtps is None else wtps, dtype=float)
        wtp_list = grid.tolist()
        inputs, effects, costs = self.draw_table()
        x = inputs.to_numpy(dtype=float)
        curves = {key: voi.evppi_curve(effects, costs, x[:, j], wtp_list) for j, key in enumerate(inputs.columns)}
        groups = self.draws.groups() if isinstance(self.draws, ParameterDraws) else {"learning": list(inputs.columns)}
        for group, keys in groups.items():
            columns = [list(inputs.columns).index(k) for k in keys]
            curves[group] = voi.evppi_curve(effects, costs, x[:, columns], wtp_list)
        evpi = voi.evppi_curve(effects, costs, x, wtp_list)
        return voi.VoiResult(grid, evpi, curves, groups, voi.population_multiplier(*population))

    def when_best(self, wtp: float | None = None) -> list[Region]:
        """Where in the uncertain inputs each model is the best buy at ``wtp`` (default :meth:`decision_wtp`): PRIM.

        One :class:`~twinsim.analysis.discovery.Region` per model that is the best buy in some draws but not nearly
        all, with its coverage and density; :meth:`Region.sentence` says it in words.
        """
        wtp = self.decision_wtp() if wtp is None else float(wtp)
        inputs, effects, costs = self.draw_table()
        best = np.argmax(wtp * effects - costs, axis=1)
        return discover_regions(inputs, best, [m.name for m in self.models])

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``twinsim compare --json``."""
        table = self.table()
        best = self.probability_best()
        buys = self.best_buy()
        models = []
        for name, row in table.iterrows():
            chance = best.loc[name]
            effect = _interval(row, "effect") | {
                "predictive95": [json_number(chance["effect_range_low"]), json_number(chance["effect_range_high"])]
            }
            models.append(
                {
                    "name": name,
                    "scenario": row["scenario"],
                    "effect": effect,
                    "cost": _interval(row, "cost"),
                    "cost_per_point": json_number(row["cost_per_point"]),
                    "icer": json_number(row["icer"]),
                    "dominance": row["dominance"],
                    "sustained_effect": _interval(row, "sustained_effect"),
                    "p_most_effective": json_number(chance["p_most_effective"]),
                    "p_most_cost_effective": json_number(chance["p_most_cost_effective"]),
                    "p_best_buy": {f"{w:.0f}": json_number(p) for w, p in buys.loc[name].items()},
                    "net_benefit_parameter_share": json_number(chance["net_benefit_param_share"]),
                }
            )
        ranking = self.ranking(float(best["wtp"].iloc[0]))
        for key in ("most_effective", "most_cost_effective"):
            ranking[key] = {
                k: v if isinstance(v, str) or v is None else json_number(v) for k, v in ranking[key].items()
            }
        return {
            "reference": self.reference,
            "posterior": self.posterior,
            "uncertainty": self.uncertainty_summary(),
            "partner_gains": self.partner_gains,
            "replicates": self.replicates,
            "wtp": json_number(ranking.pop("wtp")),
            "frontier_icers": [json_number(w) for w in self.frontier_wtps()],
            "decision_points": [json_number(w) for w in self.decision_points()],
            "models": models,
            "ranking": ranking,
            "value_of_information": self._voi_dict(),
            "when_best": [r.as_dict() for r in self.when_best()] if self.decision_grade() else None,
        }

    def decision_grade(self) -> bool:
        """Whether the comparison drew enough parameter sets for value of information and scenario discovery."""
        if self.draws is None or "parameter_set" not in self.models[0].runs:
            return False
        return self.models[0].runs["parameter_set"].nunique() >= MIN_DRAWS

    def uncertainty_summary(self) -> dict[str, Any]:
        """Which inputs were uncertain: the mode, the keys from the posterior and from priors, the draws."""
        draws = self.draws
        calibrated = draws.calibrated_keys if isinstance(draws, ParameterDraws) else (draws.keys if draws else [])
        priors = draws.prior_keys if isinstance(draws, ParameterDraws) else []
        used = int(self.models[0].runs["parameter_set"].nunique()) if draws is not None else 0
        return {
            "mode": self.uncertainty,
            "calibrated": list(calibrated),
            "from_priors": list(priors),
            "draws": used,
            "description": self.uncertainty_note(),
        }

    def uncertainty_note(self) -> str:
        """One sentence: which inputs were uncertain in this comparison."""
        if self.draws is None:
            return "No parameter uncertainty: every model ran the scenario's own values (replicate noise only)."
        if isinstance(self.draws, ParameterDraws):
            return "Parameter uncertainty over every uncertain input: " + self.draws.describe() + "."
        return (
            f"Parameter uncertainty over the {len(self.draws.keys)} calibrated parameters only (posterior"
            f" {Path(self.draws.source).parent.name}); every other input at the scenario's value."
        )

    def _voi_dict(self) -> dict[str, Any] | None:
        if not self.decision_grade():
            return None
        points = self.decision_points() or [self.decision_wtp()]
        result = self.value_of_information(points)
        at = int(np.argmax(result.evpi))
        return {
            "wtp": [json_number(w) for w in result.wtp],
            "evpi_per_programme": [json_number(v) for v in result.evpi],
            "population_multiplier": json_number(result.population),
            "evpi_population": [json_number(v * result.population) for v in result.evpi],
            "evppi_groups": {g: [json_number(v) for v in result.evppi[g]] for g in result.groups},
            "top_evppi": [[k, json_number(v)] for k, v in result.top(5, at)],
            "top_at_wtp": json_number(result.wtp[at]),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as one line of JSON."""
        return json.dumps(self.to_dict())


def _interval(row: pd.Series, col: str) -> dict[str, Any]:
    return {
        "mean": json_number(row[col]),
        "ci95": [json_number(row[f"{col}_low"]), json_number(row[f"{col}_high"])],
        "parameter_share": json_number(row[f"{col}_param_share"]),
    }


# --------------------------------------------------------------------------------------------------
# Running


#: What a comparison asks of every run (see :mod:`twinsim.experiments.outputs`).
COMPARE_OUTPUTS = ("summary", "trajectory", "costs", "institution_cost")


@dataclass(frozen=True)
class _Runner:
    """Runs arms of a comparison through the experiment engine, all on the same seeded replicates."""

    replicates: int
    seed: int
    posterior: Posterior | None = None
    progress: Progress = None
    executor: Any = None
    store: Path | None = None
    resume: bool = False

    def __call__(self, arms: dict[str, Scenario], stage: str) -> dict[str, list[dict[str, Any]]]:
        """Each arm's runs (one outcome dict per replicate); ``stage`` names the arms' store sub-folder."""
        keys = list(arms)
        experiment = Experiment(
            tuple(Arm(arms[k], label=f"{stage}:{i}") for i, k in enumerate(keys)),
            self.replicates,
            self.seed,
            posterior=self.posterior,
            outputs=COMPARE_OUTPUTS,
            name="compare",
        )
        store = None if self.store is None else self.store / stage
        table = run(experiment, executor=self.executor, store=store, resume=self.resume, progress=self.progress)
        return {key: _outcomes(table[table["point"] == i], arms[key]) for i, key in enumerate(keys)}


def _mean_costs_by_activity(runs: list[dict[tuple[str, str], float]]) -> pd.DataFrame:
    """Mean over runs of each activity's cost per category: one row per activity (in name order)."""
    columns = [*COST_CATEGORIES, "total_cost"]
    totals: dict[tuple[str, str], float] = {}
    for costs in runs:
        for key, value in costs.items():
            totals[key] = totals.get(key, 0.0) + value
    if not totals:
        return pd.DataFrame(columns=["activity", *columns])
    frame = pd.Series(totals).unstack().reindex(columns=columns).rename_axis("activity")
    return (frame / len(runs)).reset_index()


def _outcomes(table: pd.DataFrame, scenario: Scenario) -> list[dict[str, Any]]:
    """What a comparison keeps of each run of one arm (rows of the engine's runs table)."""
    structure = Structure.of(scenario)
    institutions = pd.DataFrame(
        {
            "institution": np.arange(structure.n),
            "name": structure.names,
            "kind": np.array(list(scenario.population.kinds))[structure.kind],
            "region": np.array(scenario.regions)[structure.region],
        }
    )
    months = scenario.simulation.months + scenario.simulation.followup_months
    trajectory = [f"trajectory.{m}" for m in range(months + 1)]
    by_institution = [f"institution_cost.{i}" for i in range(structure.n)]
    cost_columns = [c for c in table.columns if c.startswith("cost.")]
    runs = table.sort_values("replicate")
    column = {key: runs[key].tolist() for key in _OUTCOME_COLUMNS.values() if key in runs}  # Python numbers
    trajectories, allocated = runs[trajectory].to_numpy(), runs[by_institution].to_numpy()
    cost_keys = [tuple(c.split(".")[1:]) for c in cost_columns]
    costs = runs[cost_columns].to_numpy(dtype=float).tolist()
    out = []
    for k in range(len(runs)):
        out.append(
            {
                **{name: column[key][k] for name, key in _OUTCOME_COLUMNS.items() if key in column},
                "_trajectory": trajectories[k],
                "_by_activity": {key: v for key, v in zip(cost_keys, costs[k], strict=True) if v == v},  # noqa: PLR0124
                "_by_institution": allocated[k],
                "_institutions": institutions,
            }
        )
    return out


#: What a comparison keeps of each run: its name here -> the runs table's column.
_OUTCOME_COLUMNS = {
    "replicate": "replicate",
    "parameter_set": "parameter_set",
    "gain": "mean_gain",
    "gain_selected": "mean_gain_selected",
    "sustained_gain": "sustained_gain",
    "equity_change": "equity_change",
    "cost": "total_cost",
    "people": "people_reached",
    "ties": "ties_formed",
    "partner_gain": "partner_gain",
}


def counterfactual(scenario: Scenario) -> Scenario:
    """The scenario without its programme: same population, topics, learning and follow-up."""
    return scenario.with_overrides({"programme.delivery_model": "none", "programme.schedule": []})


def _counterfactual_key(scenario: Scenario) -> str:
    data = counterfactual(scenario).model_dump()
    for key in ("name", "description", "costs"):
        data.pop(key)
    for key in ("volume", "experts", "partners"):
        data["programme"].pop(key)
    return json.dumps(data, sort_keys=True)


def volume_for_budget(
    scenario: Scenario,
    budget: float,
    replicates: int,
    seed: int,
    progress: Progress = None,
    posterior: Posterior | None = None,
    *,
    runner: _Runner | None = None,
    label: str = "model",
) -> tuple[Scenario, list[dict[str, Any]]]:
    """Solve ``programme.volume`` so that the mean cost over ``replicates`` is ``budget`` (within 0.5%).

    Returns the scenario with the solved volume and its runs. A model that costs nothing is returned as it is.

    Raises:
        TwinsimError: when the budget is below the model's fixed cost or needs more than 100 times its volume.

    """
    runner = runner or _Runner(replicates, seed, posterior, progress)
    volume = scenario.programme.volume
    runs = runner({label: scenario}, f"budget-{label}-0")[label]
    cost = float(np.mean([r["cost"] for r in runs]))
    if cost == 0:
        return scenario, runs
    previous: tuple[float, float] | None = None
    for iteration in range(12):
        if abs(cost - budget) <= BUDGET_TOLERANCE * budget:
            return scenario, runs
        if previous is None:
            new = volume * budget / cost
        else:
            slope = (cost - previous[1]) / (volume - previous[0])
            if slope <= 0:
                raise TwinsimError(f"--budget: the cost of {scenario.name} does not grow with its activity volume")
            new = volume + (budget - cost) / slope
            if new <= 0:
                fixed = cost - slope * volume
                raise TwinsimError(
                    f"--budget {budget:,.0f}: below the fixed cost of {scenario.name} (about {fixed:,.0f})"
                )
        if new > MAX_VOLUME:
            raise TwinsimError(
                f"--budget {budget:,.0f}: {scenario.name} would need more than {MAX_VOLUME:g} times its activity volume"
            )
        previous = (volume, cost)
        volume = new
        scenario = scenario.with_overrides({"programme.volume": volume}, source="--budget")
        runs = runner({label: scenario}, f"budget-{label}-{iteration + 1}")[label]
        cost = float(np.mean([r["cost"] for r in runs]))
    raise TwinsimError(f"--budget: no activity volume of {scenario.name} found that spends {budget:,.0f}")


def partner_points(scenario: Scenario, partner_gain: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """The outside partners' own gains in points of the programme's mean indicator (0 without partners).

    Each partnership tie's partner gained ``partner_gain`` indicator points on the tie's topic (its mean over ties);
    summed over the ties and divided by the institution-topic cells the mean indicator averages over, they count
    at par with the members' points.
    """
    structure = Structure.of(scenario)
    kinds = list(scenario.population.kinds)
    cells = sum(
        int(np.sum(structure.kind == k)) * sum(kinds[k] in topic.kinds for topic in scenario.topics.values())
        for k in range(len(kinds))
    )
    gain = np.nan_to_num(np.asarray(partner_gain, dtype=float))
    return gain * np.asarray(ties, dtype=float) / max(cells, 1)


def _model_runs(
    name: str,
    ref: str,
    scenario: Scenario,
    runs: list[dict],
    cf: list[dict],
    budgeted: bool,
    partner_gains: bool = False,
) -> ModelRuns:
    frame = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in runs])
    cf_frame = pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in cf])
    for col in ("gain", "gain_selected", "sustained_gain", "equity_change", "people"):
        frame[f"cf_{col}"] = cf_frame[col].to_numpy()
    frame["people_reached"] = frame["people"] - frame["cf_people"]
    frame["effect"] = frame["gain"] - frame["cf_gain"]
    frame["effect_selected"] = frame["gain_selected"] - frame["cf_gain_selected"]
    frame["sustained_effect"] = frame["sustained_gain"] - frame["cf_sustained_gain"]
    if partner_gains and "partner_gain" in frame:  # the partners' own gains, at the end of the run, at par
        extra = partner_points(scenario, frame["partner_gain"].to_numpy(), frame["ties"].to_numpy())
        frame["partner_effect"] = extra
        frame["effect"] += extra
        frame["sustained_effect"] += extra
    frame["equity_effect"] = frame["equity_change"] - frame["cf_equity_change"]
    by_activity = _mean_costs_by_activity([r["_by_activity"] for r in runs])
    by_institution = runs[0]["_institutions"].copy()
    by_institution["cost"] = np.mean([r["_by_institution"] for r in runs], axis=0)
    trajectories = np.stack([r["_trajectory"] for r in runs])
    return ModelRuns(name, ref, scenario, frame, trajectories, by_activity, by_institution, budgeted)


def _labels(scenarios: Sequence[Scenario]) -> list[str]:
    seen: dict[str, int] = {}
    labels = []
    for sc in scenarios:
        seen[sc.name] = seen.get(sc.name, 0) + 1
        labels.append(sc.name if seen[sc.name] == 1 else f"{sc.name}#{seen[sc.name]}")
    return labels


def default_wtp(models: list[ModelRuns], reference: str, steps: int = 101) -> np.ndarray:
    """A willingness-to-pay range from 0 that shows where the acceptability curves cross.

    Up to three times the largest ICER on the cost-effectiveness frontier (where the most effective model worth
    buying takes over), evenly spaced, or geometrically from a quarter of the smallest when the frontier's ICERs
    are more than 20-fold apart; without a frontier beyond the reference, twice the largest positive ICER against it.
    """
    costs = np.array([m.runs["cost"].mean() for m in models])
    effects = np.array([m.runs["effect"].mean() for m in models])
    frontier = np.asarray(economics.frontier_icers(costs, effects), dtype=float)
    frontier = frontier[np.isfinite(frontier) & (frontier > 0)]
    if frontier.size:
        top = float(f"{3 * frontier.max():.2g}")
        if frontier.max() > 20 * frontier.min():  # ICERs decades apart: a geometric grid shows every crossing
            return np.concatenate([[0.0], np.geomspace(frontier.min() / 4, top, steps - 1)])
        return np.linspace(0.0, top, steps)
    ref = next(m for m in models if m.name == reference)
    ratios = []
    for m in models:
        d_cost = m.runs["cost"].mean() - ref.runs["cost"].mean()
        d_effect = m.runs["effect"].mean() - ref.runs["effect"].mean()
        if d_effect > 0 and d_cost > 0:
            ratios.append(d_cost / d_effect)
    top = 2 * max(ratios) if ratios else 1.0
    return np.linspace(0.0, float(f"{top:.2g}"), steps)


def compare(
    scenarios: Sequence[Scenario | str | Path],
    replicates: int = 50,
    seed: int | None = None,
    *,
    budget: float | None = None,
    wtp: tuple[float, float, int] | None = None,
    refs: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    progress: Progress = None,
    posterior: Posterior | str | Path | None = None,
    executor: Any = None,
    store: str | Path | None = None,
    resume: bool = False,
    uncertainty: str = "full",
    partner_gains: bool = False,
) -> Comparison:
    """Compare delivery models on the same replicates (common random numbers).

    Args:
        scenarios: one scenario per delivery model: validated scenarios, or files / bundled names to load
            (e.g. ``["rwanda_no_program", "rwanda_tpn", "rwanda_pairs"]``).
        replicates: replicates per model (>= 2 for intervals).
        seed: experiment seed (default: the first scenario's ``simulation.seed``); shared by every model.
        budget: when given, every model's activity volume is solved so that its mean cost is the budget.
        wtp: willingness-to-pay range ``(min, max, steps)`` for the acceptability curve (default: 0 to three times
            the largest ICER on the cost-effectiveness frontier, 101 steps; see :func:`default_wtp`).
        refs: how each scenario was named by the user (path or bundled name), for the output.
        names: a label per scenario for tables and figures (default: the scenario names, a repeated name
            numbered ``name#2``), e.g. ``names=["TPN", "TPN, 2 twins per topic"]`` for two variants of one file.
        progress: called with 1 after each finished run.
        posterior: the calibration's posterior: a Posterior, a CSV file or a bundled name (default: the first
            scenario's ``simulation.posterior``, if any); replicate ``r`` of every model runs the same parameter set.
        uncertainty: which parameters are uncertain: ``"full"`` (the default, a probabilistic sensitivity
            analysis: each pair of replicates draws every uncertain input, the calibrated ones from the posterior
            and the rest from the priors their schema fields declare, the same draw for every model),
            ``"calibrated"`` (the posterior only) or ``"none"`` (every model runs the scenario's own values:
            replicate noise only). The same default as ``twinsim compare``.
        partner_gains: count the outside partners' own gains (north-south partnerships' two-way benefit) in the
            effect, at par with the members' indicator points (:func:`partner_points`). Off by default: the donor's
            effect is the programme country's indicators; the partners' gains are another country's capacity,
            which a donor may value too (the health-partnership editorial: "we gain as much as we give") but
            which no indicator of the programme measures.
        executor: where the runs execute (see :func:`twinsim.experiments.engine.run`).
        store: a directory the runs are written to as they finish (one result store per stage).
        resume: with ``store``, compute only the runs it does not hold yet.

    Returns:
        A :class:`Comparison`.

    """
    if not scenarios:
        raise TwinsimError("compare: give at least one scenario")
    if replicates < 1:
        raise TwinsimError(f"--replicates: must be >= 1 (got {replicates})")
    if budget is not None and budget <= 0:
        raise TwinsimError(f"--budget: must be > 0 (got {budget})")
    if refs is None:
        refs = [sc.name if isinstance(sc, Scenario) else str(sc) for sc in scenarios]
    models = [as_scenario(sc) for sc in scenarios]
    seed = models[0].simulation.seed if seed is None else int(seed)
    calibrated = None  # the scenario's own posterior unless one is given (one door: as_posterior)
    if uncertainty != "none":
        calibrated = as_posterior(SCENARIO_POSTERIOR if posterior is None else posterior, models[0])
    draws = parameter_uncertainty(uncertainty, models, replicates, seed, calibrated)
    labels = _labels(models) if names is None else [str(n) for n in names]
    if len(labels) != len(models) or len(set(labels)) != len(labels):
        raise TwinsimError(f"compare: names must give one distinct label per scenario (got {list(labels)})")
    with shared_executor({"executor": executor}) as shared:  # budget steps share one pool of workers
        result = _compare(models, refs, labels, replicates, seed, budget, wtp, progress, draws,
                          shared["executor"], store, resume, partner_gains)  # fmt: skip
    result.partner_gains = partner_gains
    result.uncertainty = uncertainty if draws is not None else "none"
    result.draws = draws
    result.posterior = calibrated.source if calibrated is not None and draws is not None else None
    return result


def _compare(
    scenarios: list[Scenario],
    refs: Sequence[str],
    labels: list[str],
    replicates: int,
    seed: int,
    budget: float | None,
    wtp: tuple[float, float, int] | None,
    progress: Progress,
    posterior: Posterior | None,
    executor: Any,
    store: str | Path | None,
    resume: bool,
    partner_gains: bool = False,
) -> Comparison:
    runner = _Runner(replicates, seed, posterior, progress, executor, None if store is None else Path(store), resume)
    arms: dict[str, Scenario] = {}
    for i, given in enumerate(scenarios):
        arms.setdefault("cf:" + _counterfactual_key(given), counterfactual(given))
        if given.programme.delivery_model != "none" and budget is None:
            arms[f"model:{i}"] = given
    runs = runner(arms, "runs")  # every model and counterfactual in one experiment (all workers busy)
    models = []
    for i, (label, ref, given) in enumerate(zip(labels, refs, scenarios, strict=True)):
        cf = runs["cf:" + _counterfactual_key(given)]
        if given.programme.delivery_model == "none":  # it is its own counterfactual: the same runs
            sc, model_runs, budgeted = given, cf, False
        elif budget is None:
            sc, model_runs, budgeted = given, runs[f"model:{i}"], False
        else:
            sc, model_runs = volume_for_budget(given, budget, replicates, seed, runner=runner, label=str(i))
            budgeted = any(r["cost"] > 0 for r in model_runs)
        models.append(_model_runs(label, ref, sc, model_runs, cf, budgeted, partner_gains))
    reference = next((m.name for m in models if m.delivery_model == "none"), models[0].name)
    grid = default_wtp(models, reference) if wtp is None else np.linspace(wtp[0], wtp[1], int(wtp[2]))
    return Comparison(models, reference, seed, replicates, budget, grid, posterior.source if posterior else None)


#: Most willingness-to-pay values of an acceptability curve.
MAX_WTP_STEPS = 10_000


def parse_wtp(text: str) -> tuple[float, float, int]:
    """Parse ``MIN:MAX:STEPS`` (e.g. ``0:500000:51``)."""
    parts = text.split(":")
    try:
        lo, hi, steps = float(parts[0]), float(parts[1]), int(parts[2])
    except (ValueError, IndexError):
        raise TwinsimError(f"--wtp {text}: expected MIN:MAX:STEPS, e.g. 0:500000:51") from None
    if len(parts) != 3 or not 0 <= lo < hi or steps < 2:
        raise TwinsimError(f"--wtp {text}: need 0 <= MIN < MAX and STEPS >= 2")
    if not math.isfinite(hi) or hi > 1e15:
        raise TwinsimError(f"--wtp {text}: MAX must be a finite amount, at most 1e15")
    if steps > MAX_WTP_STEPS:
        raise TwinsimError(f"--wtp {text}: at most {MAX_WTP_STEPS:,} STEPS (got {steps:,})")
    return lo, hi, steps
