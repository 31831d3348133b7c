"""Counterfactual decomposition and power analysis."""

import numpy as np
import pytest

from twinsim.analysis.decomposition import decompose
from twinsim.analysis.power import minimum_detectable_effect, power_analysis, scale_population
from twinsim.errors import ScenarioError
from twinsim.model.results import simulate
from twinsim.scenario import load_scenario

SHORT = ["simulation.followup_months=0"]


def test_decomposition_parts_add_up_to_the_observed_difference():
    sc = load_scenario("rwanda_tpn", SHORT)
    result = decompose(sc, replicates=4, seed=11, posterior=None)
    reps = result.replicates
    assert np.allclose(reps["twinning"] + reps["self_selection"], reps["observed"], equal_nan=True)
    assert reps["observed"].notna().sum() > 0.8 * len(reps)
    factual = simulate(sc, 11, 2).selected_vs_not()["estimate"]
    rep2 = reps[reps["replicate"] == 2].set_index("topic")["observed"]
    assert np.allclose(rep2[factual.index], factual)
    parts = reps["twinning"] + reps["self_selection"] + reps["regression_to_the_mean"]
    assert np.allclose(parts, reps["measured"], equal_nan=True)  # what an evaluation measures, in three parts
    measured2 = simulate(sc, 11, 2)
    m = measured2.model
    change = np.where(m.applicable, measured2.observed[-1] - measured2.observed[0], 0.0)
    own = reps[reps["replicate"] == 2].set_index("topic")["measured"]
    from twinsim.core.evaluation import selected_vs_not_arrays

    assert np.allclose(own[m.topic_names], selected_vs_not_arrays(change, m.selected, m.applicable)["estimate"])
    summary = result.summary()
    assert np.allclose(summary["twinning"] + summary["self_selection"], summary["observed"])
    assert np.allclose(summary["twinning_share"], summary["twinning"] / summary["measured"])
    assert (summary["twinning"] > 0).all()  # the programme helps every topic's selectors
    data = result.to_dict()["decomposition"]["accreditation"]
    assert set(data) == {
        "measured",
        "observed",
        "twinning",
        "self_selection",
        "regression_to_the_mean",
        "twinning_share",
        "twinning_share_range",
    }
    assert set(data["twinning"]) == {"estimate", "ci95", "parameter_share"}
    assert data["twinning"]["parameter_share"] == 0.0 and data["twinning_share_range"] is None  # no posterior


def test_without_motivation_or_interest_gating_selection_explains_less():
    """Self-selection comes from motivation: switching it off shrinks the self-selection part."""
    sc = load_scenario("rwanda_tpn", SHORT)
    with_motivation = decompose(sc.with_overrides({"learning.motivation_rate": 0.01}), 4, 3, posterior=None).summary()
    without = decompose(sc.with_overrides({"learning.motivation_rate": 0.0}), 4, 3, posterior=None).summary()
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
    table = power_analysis(
        sc, [10, 80], replicates=16, seed=5, topics=["accreditation", "cbhi_coverage"], posterior=None
    ).table()
    for topic in ("accreditation", "cbhi_coverage"):
        small, large = (table[(table.topic == topic) & (table.institutions == n)].iloc[0] for n in (10, 80))
        assert large.power > small.power
        assert large.mde < small.mde
        assert large.n_selected > small.n_selected


def test_decompose_and_power_commands(tmp_path):
    import json

    from typer.testing import CliRunner

    from twinsim.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["decompose", "rwanda_tpn", "-r", "2", "--set", "simulation.followup_months=0", "--json"])
    assert res.exit_code == 0, res.output
    acc = json.loads(res.stdout)["decomposition"]["accreditation"]
    assert acc["observed"]["estimate"] == pytest.approx(
        acc["twinning"]["estimate"] + acc["self_selection"]["estimate"], abs=1e-5
    )
    table = runner.invoke(app, ["decompose", "rwanda_tpn", "-r", "2", "--set", "simulation.followup_months=0"])
    assert table.exit_code == 0 and "self-selection" in table.stdout
    assert "param. share meas. / twin." in table.stdout and "95% CI of mean" in table.stdout
    assert "regression to the mean" in table.stdout
    assert "parameter uncertainty" in table.stdout
    res = runner.invoke(
        app, ["power", "rwanda_tpn", "--institutions", "20,40", "-r", "3", "--topic", "cbhi_coverage", "--json"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["power"]
    assert [r["institutions"] for r in rows] == [20, 40] and {r["topic"] for r in rows} == {"cbhi_coverage"}
    assert all(0 <= r["power"] <= 1 and r["mde"] > 0 for r in rows)
    assert all(r["power_ci95_low"] <= r["power"] <= r["power_ci95_high"] for r in rows)
    assert {"estimate_param_share", "power_param_share"} <= set(rows[0])
    assert json.loads(res.stdout)["posterior"].endswith("posterior.csv")  # on by default
    text = runner.invoke(app, ["power", "rwanda_tpn", "--institutions", "12", "-r", "2", "--topic", "accreditation"])
    assert text.exit_code == 0 and "MDE" in text.stdout
    assert "power [95% CI]" in text.stdout and "param. share estimate / detection" in text.stdout
    assert "averaged over the posterior" in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--institutions", "ten"], "--institutions: expected comma-separated whole numbers"),
        (["--institutions", "1"], "--institutions: every size must be >= 2"),
        (["--institutions", "20", "--topic", "nope"], "--topic: unknown topic 'nope'"),
    ],
)
def test_power_command_user_errors(args, message):
    from typer.testing import CliRunner

    from twinsim.cli import app

    res = CliRunner().invoke(app, ["power", "rwanda_tpn", "-r", "2", *args])
    assert res.exit_code == 2 and message in res.output


def test_the_twinning_share_is_a_range_over_posterior_parameter_sets():
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    sc = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    posterior = load_posterior(resolve_posterior("rwanda_tpn"), sc)
    with_posterior = decompose(sc, 40, seed=3, posterior=posterior).summary()
    assert (with_posterior["twinning_share_low"] <= with_posterior["twinning_share_high"]).all()
    assert with_posterior["twinning_share_high"].gt(with_posterior["twinning_share_low"]).any()
    plain = decompose(sc, 6, seed=3, posterior=None).summary()
    assert plain["twinning_share_low"].isna().all()  # one parameter set: no range to give


def test_the_parts_say_how_much_of_their_spread_is_parameter_uncertainty():
    from twinsim.core.uncertainty import variance_split
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    sc = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    posterior = load_posterior(resolve_posterior("rwanda_tpn"), sc)
    result = decompose(sc, 30, seed=3, posterior=posterior)
    summary = result.summary()
    reps = result.replicates[result.replicates["topic"] == "cbhi_coverage"]
    assert list(reps["parameter_set"]) == [posterior.draw_index(3, r) for r in range(30)]
    expected = variance_split(reps["twinning"], reps["parameter_set"]).share
    assert summary.loc["cbhi_coverage", "twinning_param_share"] == pytest.approx(expected)
    shares = summary[["observed_param_share", "twinning_param_share", "self_selection_param_share"]].stack()
    assert shares.between(0, 1).all() and shares.gt(0).any()
    plain = decompose(sc, 4, seed=3, posterior=None).summary()
    assert (plain["twinning_param_share"] == 0).all()  # no posterior: all of the spread is replicate noise


def test_power_says_how_much_of_its_spread_is_parameter_uncertainty():
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    sc = load_scenario("rwanda_tpn")
    posterior = load_posterior(resolve_posterior("rwanda_tpn"), sc)
    with_posterior = power_analysis(sc, [30], replicates=30, seed=5, topics=["cbhi_coverage"], posterior=posterior)
    row = with_posterior.table().iloc[0]
    assert 0 <= row["estimate_param_share"] <= 1 and with_posterior.to_dict()["posterior"] == posterior.source
    assert row["power_ci95_low"] <= row["power"] <= row["power_ci95_high"]
    plain = power_analysis(sc, [30], replicates=4, seed=5, topics=["cbhi_coverage"], posterior=None).table().iloc[0]
    assert plain["estimate_param_share"] == 0.0


def test_wilson_interval_closed_form():
    from twinsim.analysis.power import _wilson

    low, high = _wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)  # the rule-of-three's Wilson counterpart
    low, high = _wilson(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_regression_to_the_mean_grows_with_measurement_error_and_vanishes_when_choice_sees_true_capacity():
    """ODD 7.24: selectors chose on a measured baseline, so the measured difference overstates the true one."""
    sc = load_scenario("rwanda_tpn", SHORT)

    def rtm(**overrides) -> float:
        over = {f"evaluation.{k}": v for k, v in overrides.items()}
        return float(
            decompose(sc.with_overrides(over), replicates=30, seed=4, posterior=None)
            .replicates["regression_to_the_mean"]
            .mean()
        )

    noisy = rtm(measurement_sd=8.0)
    assert noisy > rtm(measurement_sd=2.0) and noisy > 0.5
    assert abs(rtm(measurement_sd=8.0, choice_on_measured_baseline=False)) < noisy / 3
    assert rtm(measurement_sd=0.0) == 0.0
