"""Counterfactual decomposition and power analysis."""

import numpy as np
import pytest

from twinsim.decomposition import decompose
from twinsim.errors import ScenarioError
from twinsim.power import minimum_detectable_effect, power_analysis, scale_population
from twinsim.results import simulate
from twinsim.scenario import load_scenario

SHORT = ["simulation.followup_months=0"]


def test_decomposition_parts_add_up_to_the_observed_difference():
    sc = load_scenario("rwanda_tpn", SHORT)
    result = decompose(sc, replicates=4, seed=11)
    reps = result.replicates
    assert np.allclose(reps["twinning"] + reps["self_selection"], reps["observed"], equal_nan=True)
    assert reps["observed"].notna().sum() > 0.8 * len(reps)
    factual = simulate(sc, 11, 2).selected_vs_not()["estimate"]
    rep2 = reps[reps["replicate"] == 2].set_index("topic")["observed"]
    assert np.allclose(rep2[factual.index], factual)
    summary = result.summary()
    assert np.allclose(summary["twinning"] + summary["self_selection"], summary["observed"])
    assert (summary["twinning"] > 0).all()  # the programme helps every topic's selectors
    data = result.to_dict()["decomposition"]["accreditation"]
    assert set(data) == {"observed", "twinning", "self_selection", "twinning_share"}


def test_without_motivation_or_interest_gating_selection_explains_less():
    """Self-selection comes from motivation: switching it off shrinks the self-selection part."""
    sc = load_scenario("rwanda_tpn", SHORT)
    with_motivation = decompose(sc.with_overrides({"learning.motivation_rate": 0.01}), 4, 3).summary()
    without = decompose(sc.with_overrides({"learning.motivation_rate": 0.0}), 4, 3).summary()
    assert (without["self_selection"] < with_motivation["self_selection"]).all()


@pytest.mark.parametrize("size", [10, 20, 40, 80, 123])
def test_scaled_population_has_the_requested_size(size):
    sc = scale_population(load_scenario("rwanda_tpn"), size)
    assert sc.n_institutions == size
    hospitals = sum(sc.population.kinds["hospital"].counts.values())
    assert hospitals == pytest.approx(size / 4, abs=1)


def test_a_size_too_small_for_a_kind_is_a_user_error():
    with pytest.raises(ScenarioError, match="--institutions 1: too few"):
        scale_population(load_scenario("rwanda_tpn"), 1)


def test_mde_closed_form():
    assert minimum_detectable_effect(1.0) == pytest.approx(1.959964 + 0.841621, rel=1e-5)


def test_power_rises_and_mde_falls_with_trial_size():
    sc = load_scenario("rwanda_tpn")
    table = power_analysis(sc, [10, 80], replicates=16, seed=5, topics=["accreditation", "cbhi_coverage"]).table()
    for topic in ("accreditation", "cbhi_coverage"):
        small, large = (table[(table.topic == topic) & (table.institutions == n)].iloc[0] for n in (10, 80))
        assert large.power > small.power
        assert large.mde < small.mde
        assert large.n_selected > small.n_selected
