"""Comparing delivery models: common random numbers, the JSON shape, budgets, the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import twinsim
from twinsim.analysis.compare import compare, parse_wtp
from twinsim.cli import app
from twinsim.errors import TwinsimError

ALL = [
    "rwanda_no_program",
    "rwanda_tpn",
    "rwanda_pairs",
    "rwanda_north_south",
    "rwanda_external_experts",
    "rwanda_hybrid",
]
runner = CliRunner()


@pytest.fixture(scope="module")
def comparison():
    return compare([twinsim.load_scenario(n) for n in ALL], replicates=4, seed=11, uncertainty="none")


def test_no_programme_costs_nothing_and_its_effect_interval_contains_zero(comparison):
    none = comparison.model("rwanda_no_program")
    _, lo, hi = none.interval("effect")
    assert lo <= 0 <= hi and none.runs["cost"].eq(0).all()
    assert comparison.reference == "rwanda_no_program"


def test_models_share_random_draws_per_replicate(comparison):
    # every model's counterfactual is the same run: the population and turnover draws are shared
    cf = comparison.model("rwanda_no_program").runs["gain"].to_numpy()
    for m in comparison.models:
        np.testing.assert_array_equal(m.runs["cf_gain"].to_numpy(), cf)
        np.testing.assert_array_equal(m.trajectories[:, 0], comparison.models[0].trajectories[:, 0])


def test_each_model_cost_is_its_ledger_and_its_breakdowns_add_up(comparison):
    by_activity = comparison.costs_by_activity()
    by_institution = comparison.costs_by_institution()
    for m in comparison.models:
        total = m.runs["cost"].mean()
        assert by_activity.loc[by_activity.model == m.name, "total_cost"].sum() == pytest.approx(total)
        assert by_institution.loc[by_institution.model == m.name, "cost"].sum() == pytest.approx(total)


def test_table_icers_are_increments_against_the_reference(comparison):
    table = comparison.table()
    ref = table.loc["rwanda_no_program"]
    for name, row in table.iterrows():
        dominated_by_ref = row["cost"] >= ref["cost"] and row["effect"] <= ref["effect"]
        if name == "rwanda_no_program" or dominated_by_ref:
            continue
        assert row["icer"] == pytest.approx((row["cost"] - ref["cost"]) / (row["effect"] - ref["effect"]))
    assert np.isnan(table.loc["rwanda_no_program", "icer"])
    assert comparison.ceac().drop(columns="wtp").sum(axis=1).to_numpy() == pytest.approx(1.0)


def test_json_has_exactly_the_documented_shape(comparison):
    data = json.loads(comparison.to_json())
    assert set(data) == {
        "reference",
        "posterior",
        "uncertainty",
        "partner_gains",
        "replicates",
        "wtp",
        "frontier_icers",
        "decision_points",
        "models",
        "ranking",
        "value_of_information",
        "when_best",
    }
    assert data["uncertainty"]["mode"] == "none" and data["value_of_information"] is None
    assert data["reference"] == "rwanda_no_program" and data["posterior"] is None and data["replicates"] == 4
    keys = {"name", "scenario", "effect", "cost", "cost_per_point", "icer", "dominance", "sustained_effect"}
    keys |= {"p_most_effective", "p_most_cost_effective", "p_best_buy", "net_benefit_parameter_share"}
    for model in data["models"]:
        assert set(model) == keys
        for part in ("effect", "cost", "sustained_effect"):
            extra = {"predictive95"} if part == "effect" else set()
            assert set(model[part]) == {"mean", "ci95", "parameter_share"} | extra and len(model[part]["ci95"]) == 2
        lo, hi = model["effect"]["predictive95"]
        assert lo <= model["effect"]["mean"] <= hi  # where 95% of single replicates land
        assert model["dominance"] in {"dominated", "extended-dominated", "non-dominated"}
        if model["name"] != "rwanda_no_program":  # no posterior: all of the spread is replicate noise
            assert model["effect"]["parameter_share"] == 0.0
    assert [m["name"] for m in data["models"]] == ALL
    assert sum(m["p_most_effective"] for m in data["models"]) == pytest.approx(1)
    assert data["ranking"]["basis"] == "replicates"
    for key in ("most_effective", "most_cost_effective"):
        assert set(data["ranking"][key]) == {
            "leader",
            "runner_up",
            "p_leader_best",
            "reversal",
            "difference_param_share",
        }


def test_budget_rescales_every_model_to_the_same_spend():
    budget = 250_000.0
    result = compare([twinsim.load_scenario(n) for n in ALL], replicates=3, seed=2, budget=budget)
    for m in result.models:
        cost = m.runs["cost"].mean()
        if m.delivery_model == "none":
            assert cost == 0 and not m.budgeted
        else:
            assert abs(cost - budget) <= 0.02 * budget, (m.name, cost)
            assert m.budgeted


def test_budget_below_the_fixed_cost_is_a_clear_error():
    with pytest.raises(TwinsimError, match="below the fixed cost of rwanda_tpn"):
        compare([twinsim.load_scenario("rwanda_tpn")], replicates=2, budget=1000.0)


def test_wtp_parsing():
    assert parse_wtp("0:100:11") == (0.0, 100.0, 11)
    for bad in ("0:100", "a:b:c", "100:0:5", "0:100:1"):
        with pytest.raises(TwinsimError, match="--wtp"):
            parse_wtp(bad)


def test_cli_compare_json_and_figures(tmp_path):
    res = runner.invoke(
        app,
        [
            "compare",
            "rwanda_tpn",
            "rwanda_no_program",
            "rwanda_pairs",
            "-r",
            "3",
            "--seed",
            "5",
            "--wtp",
            "0:300000:7",
            "--out",
            str(tmp_path),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["reference"] == "rwanda_no_program" and len(data["models"]) == 3
    for name in (
        "ce_plane.png",
        "ceac.png",
        "trajectories.png",
        "comparison.json",
        "probability_best.csv",
        "ceac.csv",
        "replicates.csv",
        "costs_by_activity.csv",
        "costs_by_institution.csv",
    ):
        assert (tmp_path / name).stat().st_size > 0
    assert len((tmp_path / "ceac.csv").read_text().strip().splitlines()) == 8
    header = (tmp_path / "comparison.csv").read_text().splitlines()[0].split(",")
    assert {"effect_param_share", "sustained_effect_param_share", "cost_param_share"} <= set(header)
    assert "net_benefit_param_share" in (tmp_path / "probability_best.csv").read_text().splitlines()[0]
    assert data["posterior"].endswith("posterior.csv")  # the scenario's posterior, on by default


def test_cli_compare_table_and_user_errors():
    res = runner.invoke(app, ["compare", "rwanda_tpn", "rwanda_no_program", "-r", "2"])
    assert res.exit_code == 0 and "rwanda_tpn" in res.stdout
    for label in ("effect [95% CI of mean]", "param. share", "95% of replicates (predictive)", "Ranking: "):
        assert label in res.stdout, label
    assert "parameter uncertainty" in res.stdout and "replicate noise" in res.stdout
    bad = runner.invoke(app, ["compare", "rwanda_tpn", "--wtp", "1:2"])
    assert bad.exit_code == 2 and "--wtp" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_compare_with_a_posterior_draws_one_parameter_set_per_replicate_shared_by_all_models():
    from twinsim.experiments.posterior import load_posterior, scenario_for_replicate
    from twinsim.scenario import bundled_scenarios

    path = bundled_scenarios()["rwanda_tpn"].parent / "posteriors" / "rwanda_tpn" / "posterior.csv"
    tpn = twinsim.load_scenario("rwanda_tpn")
    post = load_posterior(path, tpn)
    result = compare(
        ["rwanda_no_program", "rwanda_tpn"], replicates=3, seed=5, posterior=post, uncertainty="calibrated"
    )
    runs = result.model("rwanda_tpn").runs
    for r in range(3):  # replicate r of the comparison is a plain run of that replicate's posterior scenario
        plain = twinsim.simulate(scenario_for_replicate(tpn, post, 5, r), seed=5, replicate=r)
        assert runs["gain"].iloc[r] == pytest.approx(plain.summary()["mean_gain"])
    without = compare(["rwanda_no_program", "rwanda_tpn"], replicates=3, seed=5, uncertainty="none")
    assert not np.allclose(without.model("rwanda_tpn").runs["gain"], runs["gain"])


def test_compare_names_label_variants_of_one_scenario():
    base = twinsim.load_scenario("rwanda_tpn")
    two = base.with_overrides({"programme.twins_per_topic": 2})
    result = compare([base, two], replicates=2, names=["TPN", "TPN, 2 twins"])
    assert list(result.to_frame().index) == ["TPN", "TPN, 2 twins"]
    assert "TPN, 2 twins" in repr(result) and len(repr(result)) < 300
    with pytest.raises(TwinsimError, match="distinct label"):
        compare([base, two], replicates=2, names=["same", "same"])


def test_probability_best_shares_sum_to_one_and_a_zero_wtp_picks_the_cheapest():
    scenarios = [
        twinsim.load_scenario(name, {"simulation.followup_months": 1})
        for name in ("rwanda_no_program", "rwanda_tpn", "rwanda_pairs")
    ]
    result = compare(scenarios, replicates=8, seed=2)
    best = result.probability_best()
    assert best["p_most_effective"].sum() == pytest.approx(1) and best["p_most_cost_effective"].sum() == pytest.approx(
        1
    )
    assert best.loc["rwanda_no_program", "p_most_effective"] == 0
    assert result.probability_best(wtp=0.0).loc["rwanda_no_program", "p_most_cost_effective"] == 1
    assert (best["effect_range_low"] <= best["effect_range_high"]).all()
    icers = result.frontier_wtps()
    points = result.decision_points()
    assert len(points) == len(icers) and all(a < p for a, p in zip(icers, points, strict=True))
    buys = result.best_buy()
    assert np.allclose(buys.sum(axis=0), 1.0)  # each column: shares of the draws
    assert np.allclose(result.best_buy([0.0]).loc["rwanda_no_program"], 1.0)  # a point worth nothing: no programme


def test_the_effect_parameter_share_is_the_law_of_total_variance_over_shared_posterior_draws():
    from twinsim.core.uncertainty import variance_split
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    scenarios = [
        twinsim.load_scenario(name, {"simulation.followup_months": 1}) for name in ("rwanda_no_program", "rwanda_tpn")
    ]
    post = load_posterior(resolve_posterior("rwanda_tpn"), scenarios[1])
    result = compare(scenarios, replicates=30, seed=3, posterior=post, uncertainty="calibrated")
    runs = result.model("rwanda_tpn").runs
    # replicate r ran the posterior row drawn for (seed, r), and several replicates share a row
    assert list(runs["parameter_set"]) == [post.draw_index(3, r) for r in range(30)]
    assert runs["parameter_set"].value_counts().gt(1).sum() >= 3
    groups = runs.groupby("parameter_set")["effect"]
    sizes = groups.size()
    within = groups.var(ddof=1)[sizes > 1]
    pooled = np.average(within, weights=sizes[within.index] - 1)
    share = result.table().loc["rwanda_tpn", "effect_param_share"]
    assert share == pytest.approx(max(0.0, 1 - pooled / runs["effect"].var(ddof=1)))
    assert 0 < share < 1 and share == variance_split(runs["effect"], runs["parameter_set"]).share
    ranking = result.ranking()
    assert ranking["basis"] == "posterior draws" and ranking["most_effective"]["leader"] == "rwanda_tpn"
    assert ranking["most_effective"]["p_leader_best"] == pytest.approx(1 - ranking["most_effective"]["reversal"])
