"""The donor's decision-grade answer: priors, joint parameter draws, value of information, when the answer flips."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

import twinsim
from twinsim.analysis import voi
from twinsim.analysis.compare import compare
from twinsim.analysis.discovery import discover_regions
from twinsim.cli import app
from twinsim.core.priors import Prior, declared_priors
from twinsim.experiments.posterior import load_posterior
from twinsim.experiments.psa import ParameterDraws, prior_table, scenario_inputs
from twinsim.scenario import Scenario, resolve_posterior

runner = CliRunner()


def closed_form_evpi(mu: float, s: float) -> float:
    """EVPI of two options with incremental net benefit mu + s Z (Z standard normal)."""
    return s * norm.pdf(mu / s) + mu * norm.cdf(mu / s) - max(mu, 0.0)


@pytest.mark.parametrize(("mu", "b", "c"), [(0.5, 1.0, 2.0), (-1.0, 2.0, 1.0), (1.0, 1.5, 1.5)])
def test_evpi_and_evppi_recover_the_closed_form_within_5_percent(mu, b, c):
    rng = np.random.default_rng(7)
    n = 100_000
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    nb = np.column_stack([np.zeros(n), mu + b * x + c * y])
    assert voi.evppi(nb, x) == pytest.approx(closed_form_evpi(mu, abs(b)), rel=0.05)
    assert voi.evppi(nb, y) == pytest.approx(closed_form_evpi(mu, abs(c)), rel=0.05)
    assert voi.evpi(nb, np.column_stack([x, y])) == pytest.approx(closed_form_evpi(mu, np.hypot(b, c)), rel=0.05)


def test_evpi_by_regression_ignores_noise_that_the_plain_formula_counts():
    rng = np.random.default_rng(3)
    n = 50_000
    x = rng.standard_normal(n)
    noisy = np.column_stack([np.zeros(n), 0.3 + x + rng.normal(0, 2.0, n)])
    truth = closed_form_evpi(0.3, 1.0)
    assert voi.evpi(noisy, x[:, None]) == pytest.approx(truth, rel=0.05)
    assert voi.evpi_raw(noisy) > 1.5 * truth  # replicate noise inflates the plain estimate


def test_evppi_curve_is_the_evppi_of_each_willingness_to_pay():
    rng = np.random.default_rng(5)
    n = 20_000
    x = rng.standard_normal(n)
    effects = np.column_stack([np.zeros(n), 1 + 0.5 * x])
    costs = np.column_stack([np.zeros(n), 100 + 40 * rng.standard_normal(n)])
    curve = voi.evppi_curve(effects, costs, x, [50.0, 100.0, 200.0])
    for k, w in enumerate((50.0, 100.0, 200.0)):
        assert curve[k] == pytest.approx(voi.evppi(w * effects - costs, x), rel=0.05, abs=0.5)


def test_population_multiplier_discounts_each_year():
    assert voi.population_multiplier(2, 3, 0.0) == 6
    assert voi.population_multiplier(1, 2, 0.05) == pytest.approx(1 + 1 / 1.05)
    with pytest.raises(ValueError, match="years"):
        voi.population_multiplier(1, 0, 0.03)


def test_every_declared_prior_stays_within_its_fields_bounds_and_names_a_source():
    scenarios = [twinsim.load_scenario(n) for n in twinsim.bundled_scenarios()]
    for scenario in scenarios:
        draws = ParameterDraws([scenario], 4, 1, None)
        draws.check(scenario)  # the smallest and largest value of every input validate
    for key, (prior, _) in declared_priors(Scenario).items():
        assert prior.source and prior.group in {"learning", "costs", "experts", "partners"}, key
    assert {row["key"] for row in prior_table()} >= {"costs.expert_day_rate", "programme.experts.traction_threshold"}


def test_priors_map_quantiles_to_their_family():
    tri = Prior("triangular", 0.0, 1.0, "learning", "assumption")
    assert tri.ppf(0.0, 0.2) == 0.0 and tri.ppf(1.0, 0.2) == 1.0
    assert float(tri.ppf(0.2, 0.2)) == pytest.approx(0.2)  # the mode's quantile is (mode - low) / (high - low)
    rel = Prior("loguniform", 0.5, 2.0, "learning", "assumption", relative=True)
    assert float(rel.ppf(0.5, 0.4)) == pytest.approx(0.4)  # the geometric middle of x0.5 .. x2
    wide = Prior("uniform", 0.0, 1.0, "costs", "assumption")
    assert wide.bounds(3.0) == (0.0, 3.0)  # a scenario value outside the range widens it
    with pytest.raises(ValueError, match="source"):
        Prior("uniform", 0.0, 1.0, "costs", "")


def test_draws_are_common_across_models_and_keep_the_calibrated_rows():
    names = ["rwanda_tpn", "rwanda_external_experts"]
    scenarios = [twinsim.load_scenario(n) for n in names]
    post = load_posterior(resolve_posterior("rwanda_tpn"), scenarios[0])
    draws = ParameterDraws(scenarios, 30, 11, post)
    for k in range(30):  # the calibrated part is the row the calibrated-only analysis draws for the same pair
        assert draws.calibrated[k].tolist() == post.values[post.draw_index(11, 2 * k)].tolist()
        tpn, experts = draws.overrides(scenarios[0], k), draws.overrides(scenarios[1], k)
        shared = set(tpn) & set(experts)
        assert {"costs.staff_day", "learning.forgetting"} <= shared
        assert all(tpn[key] == experts[key] for key in shared)  # same scenario values: the same draw
        assert "learning.rates.leadership_retreat" in experts and "learning.rates.leadership_retreat" not in tpn
    longer = ParameterDraws(scenarios, 60, 11, post)
    np.testing.assert_array_equal(longer.quantiles[:30], draws.quantiles)  # more draws change no earlier draw
    keys = {i.key for i in scenario_inputs(scenarios[1])}
    assert "programme.experts.traction_threshold" in keys and "learning.rates.coaching_virtual" not in keys


@pytest.fixture(scope="module")
def psa():
    names = ["rwanda_no_program", "rwanda_tpn", "rwanda_external_experts"]
    scenarios = [twinsim.load_scenario(n, {"simulation.followup_months": 1}) for n in names]
    return compare(scenarios, replicates=60, seed=4)


def test_compare_defaults_to_full_uncertainty_and_says_so(psa):
    assert psa.uncertainty == "full" and isinstance(psa.draws, ParameterDraws)
    inputs, effects, costs = psa.draw_table()
    assert len(inputs) == 30 and effects.shape == costs.shape == (30, 3)
    assert inputs["costs.expert_day_rate"].nunique() == 30  # unit costs vary between draws ...
    experts = psa.model("rwanda_external_experts").runs
    assert experts["cost"].std() > 0.05 * experts["cost"].mean()  # ... and so does what a model costs
    summary = psa.uncertainty_summary()
    assert "costs.expert_day_rate" in summary["from_priors"] and len(summary["calibrated"]) == 5
    assert "uncertain inputs" in psa.uncertainty_note()
    frontier = psa.acceptability_frontier()
    assert set(frontier["model"]) <= {m.name for m in psa.models} and frontier["probability"].between(0, 1).all()


def test_value_of_information_and_regions_from_a_comparison(psa):
    points = psa.decision_points() or [psa.decision_wtp()]
    result = psa.value_of_information(points)
    assert set(result.groups) >= {"learning", "costs", "experts"}
    for name, curve in result.evppi.items():
        assert (curve <= result.evpi + 1e-6 * (1 + result.evpi)).all(), name  # a part is worth no more than all
    samples = psa.psa_samples()
    assert len(samples) == 30 * 3 and set(samples.columns) == {"draw", "model", "effect", "cost"}
    data = json.loads(psa.to_json())
    assert data["uncertainty"]["mode"] == "full" and data["value_of_information"]["evpi_per_programme"]


def test_prim_finds_the_region_where_an_option_wins():
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.uniform(size=2000), "b": rng.uniform(size=2000), "c": rng.uniform(size=2000)})
    best = np.where((x["a"] < 0.3) & (x["b"] > 0.5), 1, 0)
    regions = discover_regions(x, best, ["network", "experts"])
    experts = next(r for r in regions if r.option == "experts")
    assert set(experts.limits) == {"a", "b"} and experts.coverage > 0.8 and experts.density > 0.8
    assert experts.limits["a"][1] == pytest.approx(0.3, abs=0.05) and experts.limits["b"][0] == pytest.approx(
        0.5, abs=0.05
    )
    sentence = experts.sentence()
    assert sentence.startswith(f"experts is the best buy in {experts.share:.0%} of draws, mostly where a < 0.")
    assert "b > 0.5" in sentence.replace("0.49", "0.5") and "(coverage)" in sentence and "(density" in sentence


def test_cli_compare_writes_the_psa_for_bcea_and_dampack(tmp_path):
    out = tmp_path / "c"
    result = runner.invoke(
        app,
        ["compare", "rwanda_no_program", "rwanda_tpn", "-r", "50", "--set", "simulation.followup_months=1",
         "--out", str(out), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "uncertain inputs" in result.output and "EVPI" in result.output
    effects = pd.read_csv(out / "psa_effects.csv")
    costs = pd.read_csv(out / "psa_costs.csv")
    params = pd.read_csv(out / "psa_parameters.csv")
    assert list(effects.columns) == list(costs.columns) == ["rwanda_no_program", "rwanda_tpn"]
    assert len(effects) == len(costs) == len(params) == 25
    assert (out / "evpi.png").stat().st_size > 10_000 and (out / "value_of_information.csv").exists()
    bad = runner.invoke(app, ["compare", "rwanda_tpn", "--uncertainty", "some"])
    assert bad.exit_code == 2 and "--uncertainty" in bad.stderr
    bad = runner.invoke(app, ["compare", "rwanda_tpn", "--population", "1:0:0.03"])
    assert bad.exit_code == 2 and "--population" in bad.stderr


def test_partner_gains_count_in_the_effect_only_when_asked():
    from twinsim.analysis.compare import partner_points

    names = ["rwanda_no_program", "rwanda_tpn", "rwanda_north_south"]
    scenarios = [twinsim.load_scenario(n, {"simulation.followup_months": 1}) for n in names]
    without = compare(scenarios, replicates=4, seed=2, uncertainty="none")
    with_partners = compare(scenarios, replicates=4, seed=2, uncertainty="none", partner_gains=True)
    ns, ns_with = without.model("rwanda_north_south").runs, with_partners.model("rwanda_north_south").runs
    extra = partner_points(scenarios[2], ns["partner_gain"].to_numpy(), ns["ties"].to_numpy())
    assert (extra > 0).all()  # partners gain (two-way learning) ...
    np.testing.assert_allclose(ns_with["effect"], ns["effect"] + extra)  # ... and count at par only when asked
    np.testing.assert_allclose(
        with_partners.model("rwanda_tpn").runs["effect"], without.model("rwanda_tpn").runs["effect"]
    )
    assert json.loads(with_partners.to_json())["partner_gains"] is True
