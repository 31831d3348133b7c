"""The split of an interval's variance into parameter uncertainty and replicate noise (law of total variance)."""

import numpy as np
import pandas as pd
import pytest

from twinsim.core.uncertainty import variance_split
from twinsim.experiments.engine import ReplicateSet, parameter_share
from twinsim.scenario import load_scenario


def grouped(set_means, noise_sd, per_set, seed=0):
    """Values = the set's mean + noise, ``per_set`` replicates per parameter set."""
    rng = np.random.default_rng(seed)
    sets = np.repeat(np.arange(len(set_means)), per_set)
    values = np.asarray(set_means, dtype=float)[sets] + noise_sd * rng.standard_normal(sets.size)
    return values, sets


def test_no_replicate_noise_is_all_parameter_uncertainty():
    values, sets = grouped([1.0, 4.0, -2.0, 0.5], noise_sd=0.0, per_set=3)
    split = variance_split(values, sets)
    assert split.share == 1.0 and split.replicate == 0.0
    assert split.parameter == pytest.approx(np.var(values, ddof=1))
    assert (split.sets, split.repeated) == (4, 4)


def test_no_posterior_is_all_replicate_noise():
    values = np.array([1.0, 3.0, 2.0, 5.0])
    split = variance_split(values)
    assert split.share == 0.0 and split.parameter == 0.0
    assert split.replicate == pytest.approx(np.var(values, ddof=1)) == split.total
    assert variance_split(values, np.zeros(4)).share == 0.0  # one parameter set: the same


def test_identical_sets_give_no_parameter_share_exactly():
    # Every set holds the same values: the sets' means are equal, all variance is within sets.
    values = np.tile([0.0, 2.0, 4.0], 5)
    sets = np.repeat(np.arange(5), 3)
    split = variance_split(values, sets)
    assert split.replicate == pytest.approx(4.0)
    # total (ddof=1 over 15) = 4 * 14/15 ... pooled within = 4: clipped at zero parameter variance
    assert split.parameter == 0.0 and split.share == 0.0


def test_the_share_is_the_known_variance_ratio():
    # Set means with variance 3, noise with variance 1: the parameter share is 3 / (3 + 1).
    rng = np.random.default_rng(42)
    means = np.sqrt(3.0) * rng.standard_normal(4000)
    values, sets = grouped(means, noise_sd=1.0, per_set=2, seed=7)
    split = variance_split(values, sets)
    assert split.share == pytest.approx(0.75, abs=0.02)
    assert split.replicate == pytest.approx(1.0, abs=0.05)
    assert split.total == pytest.approx(split.parameter + split.replicate)


def test_exact_law_of_total_variance_on_a_balanced_design():
    values = np.array([1.0, 3.0, 10.0, 12.0, 5.0, 9.0])
    sets = np.array([0, 0, 1, 1, 2, 2])
    split = variance_split(values, sets)
    within = np.mean([2.0, 2.0, 8.0])  # var(ddof=1) of (1, 3), (10, 12), (5, 9)
    total = np.var(values, ddof=1)
    assert split.replicate == pytest.approx(within)
    assert split.share == pytest.approx(1 - within / total)
    assert parameter_share(pd.Series(values), pd.Series(sets)) == pytest.approx(split.share)


def test_unestimable_split_is_nan_not_a_guess():
    values, sets = grouped([1.0, 2.0], noise_sd=1.0, per_set=3)  # two repeated sets: too few
    assert np.isnan(variance_split(values, sets).share)
    assert np.isnan(variance_split(np.arange(5.0), np.arange(5)).share)  # no set drawn twice
    assert np.isnan(variance_split(np.ones(6), np.repeat(np.arange(3), 2)).share)  # no variance at all
    assert np.isnan(variance_split(np.array([1.0])).share)


def test_replicate_set_uses_the_same_split():
    values, sets = grouped([0.0, 1.0, 5.0], noise_sd=0.0, per_set=2)
    summaries = pd.DataFrame({"x": values, "parameter_set": sets})
    batch = ReplicateSet(scenario=load_scenario("rwanda_tpn"), seed=1, summaries=summaries)
    assert batch.parameter_share("x") == 1.0
    assert np.isnan(
        ReplicateSet(load_scenario("rwanda_tpn"), 1, summaries.drop(columns="parameter_set")).parameter_share("x")
    )


def test_the_split_agrees_with_a_grouped_pandas_computation():
    rng = np.random.default_rng(5)
    sets = rng.integers(0, 12, 200)
    values = rng.normal(sets * 0.3, 1.0)
    values[[3, 50]] = np.nan  # dropped with their set
    split = variance_split(values, sets)
    frame = pd.DataFrame({"x": values, "s": sets}).dropna()
    groups = frame.groupby("s")["x"]
    noise = np.average(groups.var(ddof=1), weights=groups.size() - 1)
    assert split.replicate == pytest.approx(noise, rel=1e-12)
    assert split.total == pytest.approx(frame["x"].var(ddof=1), rel=1e-12)
    assert (split.sets, split.repeated) == (12, 12)


def test_a_replicate_set_from_columns_equals_one_from_a_frame():
    sc = load_scenario("rwanda_tpn")
    rng = np.random.default_rng(2)
    columns = {"replicate": np.arange(6), "total_cost": rng.normal(100.0, 5.0, 6)}
    for topic in sc.topics:
        for key in ("selected_vs_not", "change", "change_selected", "change_not_selected"):
            columns[f"{key}.{topic}"] = rng.normal(size=6)
        columns[f"n_selected.{topic}"] = rng.integers(0, 5, 6)
        columns[f"n_not_selected.{topic}"] = rng.integers(0, 5, 6)
    from_columns = ReplicateSet(sc, 1, columns, topics=list(sc.topics))
    from_frame = ReplicateSet(sc, 1, pd.DataFrame(columns), topics=list(sc.topics))
    assert from_columns.summaries.equals(from_frame.summaries) and from_columns.replicates == 6
    assert from_columns.selected_vs_not().equals(from_frame.selected_vs_not())
    assert from_columns.change().equals(from_frame.change()) and from_columns.to_dict() == from_frame.to_dict()
    effect = from_columns.selected_vs_not().loc["accreditation"]
    assert effect["estimate"] == pytest.approx(columns["selected_vs_not.accreditation"].mean())
    assert list(from_columns.change().columns)[:3] == ["all", "all_ci95_low", "all_ci95_high"]
