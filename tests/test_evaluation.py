"""Evaluation emulation: measured indicators, the paper's comparison, difference-in-differences."""

import numpy as np
import pytest

from twinsim.core.evaluation import did_regression, evaluate_observed, survey_months
from twinsim.errors import ScenarioError
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.results import simulate, simulate_many
from twinsim.scenario import load_scenario

SHORT = ["simulation.followup_months=0"]


def test_did_with_two_surveys_equals_the_difference_of_mean_changes():
    rng = np.random.default_rng(1)
    values = rng.normal(50, 5, size=(2, 12))
    sel = np.array([True] * 5 + [False] * 7)
    change = values[1] - values[0]
    did = did_regression(values, sel)
    assert did["estimate"] == pytest.approx(change[sel].mean() - change[~sel].mean())
    assert did["ci95_low"] < did["estimate"] < did["ci95_high"] and 0 <= did["p_value"] <= 1


def test_did_recovers_a_known_effect_and_rejects_none():
    rng = np.random.default_rng(2)
    n = 400
    sel = rng.random(n) < 0.4
    level = rng.normal(60, 8, n)  # institution effects: cancel in the difference-in-differences
    base = level + rng.normal(0, 1, n)
    mid = level + 1 + 3 * sel + rng.normal(0, 1, n)
    end = level + 2 + 3 * sel + rng.normal(0, 1, n)
    did = did_regression(np.stack([base, mid, end]), sel)
    assert did["ci95_low"] < 3 < did["ci95_high"] and did["p_value"] < 1e-6
    null = did_regression(np.stack([base, level + 2 + rng.normal(0, 1, n)]), sel)
    assert null["p_value"] > 0.001


def _statsmodels_did(values, selected):
    import statsmodels.api as sm

    n_surveys, n = values.shape
    sel = selected.astype(float)
    survey = np.repeat(np.arange(n_surveys), n)
    dummies = [(survey == s).astype(float) for s in range(1, n_surveys)]
    x = np.column_stack(
        [np.ones(n_surveys * n), np.tile(sel, n_surveys), *dummies, np.tile(sel, n_surveys) * (survey > 0)]
    )
    groups = np.tile(np.arange(n), n_surveys)
    fit = sm.OLS(values.ravel(), x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    low, high = fit.conf_int(0.05)[-1]
    return {
        "estimate": fit.params[-1],
        "se": fit.bse[-1],
        "ci95_low": low,
        "ci95_high": high,
        "p_value": fit.pvalues[-1],
    }


@pytest.mark.parametrize("seed", range(40))
def test_did_equals_statsmodels_cluster_robust_ols(seed):
    rng = np.random.default_rng(seed)
    n, surveys = int(rng.integers(3, 90)), int(rng.integers(2, 4))
    sel = np.arange(n) < max(1, int(n * rng.uniform(0.1, 0.9)))
    rng.shuffle(sel)
    values = rng.normal(50, 10, (surveys, n)) + rng.uniform(0, 5) * sel * (np.arange(surveys)[:, None] > 0)
    assert did_regression(values, sel) == pytest.approx(_statsmodels_did(values, sel), rel=1e-10, abs=1e-12)


def test_did_is_nan_when_a_group_is_empty():
    assert np.isnan(did_regression(np.ones((2, 5)), np.zeros(5, dtype=bool))["estimate"])


def test_measurement_error_has_the_stated_sd_and_the_baseline_error_is_the_one_institutions_chose_on():
    sc = load_scenario("rwanda_tpn", {"evaluation.measurement_sd": 4.0})
    model = TwinningModel(sc, 3, replicates=50)
    errors = model.measurement_error([0, 19])
    assert errors[:, model.applicable].std() == pytest.approx(4.0, rel=0.05)
    assert np.corrcoef(errors[0].ravel(), errors[1].ravel())[0, 1] == pytest.approx(0.0, abs=0.03)
    runs = simulate_many(sc, 3, 2)
    base = runs[1].observed[0] - runs[1].model.indicator(runs[1].model.baseline)
    assert np.allclose(base[runs[1].model.applicable], model.measurement_error([0])[0, 40:80][runs[1].model.applicable])
    exact = load_scenario("rwanda_tpn", {"evaluation.measurement_sd": 0.0})
    assert np.array_equal(TwinningModel(exact, 3).measurement_error([0, 5]), np.zeros((2, 40, len(exact.topics))))


def test_choosing_on_measured_data_adds_regression_to_the_mean_to_the_evaluation():
    """Selectors chose topics where their measured baseline was low: their measured change is inflated."""

    def measured_minus_true(choice_on_measured: bool) -> float:
        sc = load_scenario(
            "rwanda_no_program",
            {"evaluation.measurement_sd": 8.0, "evaluation.choice_on_measured_baseline": choice_on_measured},
        )
        bias = []
        for r in simulate_many(sc, 5, 40):
            measured = evaluate_observed(r.observed, r.model.selected, r.model.applicable, r.model.topic_names)
            bias.append((measured["selected_vs_not"] - r.selected_vs_not()["estimate"]).mean())
        return float(np.nanmean(bias))

    assert measured_minus_true(True) > 0.5  # selectors' baseline errors were negative on average
    assert abs(measured_minus_true(False)) < 0.5


def test_survey_months_default_and_midline():
    sc = load_scenario("rwanda_tpn")
    assert survey_months(sc) == [0, 19] and sc.endline_month == sc.simulation.months
    mid = load_scenario("rwanda_tpn", ["evaluation.midline_month=10", "evaluation.endline_month=25"])
    assert survey_months(mid) == [0, 10, 25]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["evaluation.endline_month=40"], "evaluation.endline_month: month 40 is after the last simulated month"),
        (["evaluation.midline_month=19"], "survey months must increase"),
        (["evaluation.measurement_sd=-1"], "evaluation.measurement_sd"),
    ],
)
def test_bad_survey_settings_name_the_key(overrides, message):
    with pytest.raises(ScenarioError, match=message):
        load_scenario("rwanda_tpn", overrides)


def test_observed_indicators_of_a_run_are_reproducible_and_unbiased():
    sc = load_scenario("rwanda_tpn", [*SHORT, "evaluation.measurement_sd=3"])
    a, b = simulate(sc, 5, 1), simulate(sc, 5, 1)
    assert np.array_equal(a.observed, b.observed, equal_nan=True)
    true = np.where(a.model.applicable, a.model.indicator(a.history[[0, 19]]), np.nan)
    error = (a.observed - true)[:, a.model.applicable]
    assert abs(error.mean()) < 0.5 and error.std() == pytest.approx(3.0, rel=0.2)
    table = a.evaluation()
    assert table["did_estimate"].to_numpy() == pytest.approx(table["selected_vs_not"].to_numpy())
    without_error = simulate(load_scenario("rwanda_tpn", [*SHORT, "evaluation.measurement_sd=0"]), 5, 1)
    assert without_error.evaluation()["selected_vs_not"].to_numpy() == pytest.approx(
        without_error.selected_vs_not()["estimate"].to_numpy()
    )


def test_evaluate_observed_columns():
    sc = load_scenario("rwanda_tpn", SHORT)
    r = simulate(sc, 1, 0)
    table = evaluate_observed(r.observed, r.model.selected, r.model.applicable, r.model.topic_names)
    assert list(table.index) == list(sc.topics)
    assert {"selected_vs_not", "did_estimate", "did_se", "did_ci95_low", "did_ci95_high", "did_p_value"} <= set(table)


def test_learning_switch_off_is_the_no_programme_counterfactual():
    """Programme learning off gives the capacity path of the `none` delivery model, with the same draws."""
    sc = load_scenario("rwanda_tpn")
    off = TwinningModel(sc, run_seed_sequence(7, 2), programme_learning=False)
    off.run()
    none = TwinningModel(sc.with_overrides({"programme.delivery_model": "none"}), run_seed_sequence(7, 2))
    none.run()
    assert np.array_equal(off.history, none.history)
    assert np.array_equal(off.selected, none.selected)
    assert len(off.ties) > 0 and off.ledger and not none.ledger  # ties form and activities are costed
    on = TwinningModel(sc, run_seed_sequence(7, 2))
    on.run()
    assert np.array_equal(on.history[0], off.history[0]) and on.history[-1].sum() > off.history[-1].sum()
