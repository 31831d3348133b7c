"""Global sensitivity analysis: SALib pipeline, factor mapping, twinsim runs, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from SALib.test_functions import Ishigami
from typer.testing import CliRunner

from twinsim.analysis.sensitivity import (
    Design,
    Factor,
    analyse,
    build_factors,
    edit_schedule,
    level_index,
    parse_param,
    replicate_noise,
    run_sensitivity,
    salib_problem,
)
from twinsim.cli import app
from twinsim.errors import ScenarioError
from twinsim.experiments.engine import run_points
from twinsim.scenario import ChoiceLevel, SensitivitySpec, load_scenario

ISHIGAMI_S1 = [0.314, 0.442, 0.0]
ISHIGAMI_ST = [0.558, 0.442, 0.244]


def _ishigami_factors():
    return [Factor(name, "continuous", -np.pi, np.pi) for name in ("x1", "x2", "x3")]


# --------------------------------------------------------------------------------------------------
# The analysis recovers analytic indices


def test_sobol_recovers_the_analytic_ishigami_indices():
    result = analyse(_ishigami_factors(), ["y"], Ishigami.evaluate, method="sobol", samples=2048, seed=3)
    frame = result.indices["y"].loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(frame["S1"], ISHIGAMI_S1, atol=0.05)
    np.testing.assert_allclose(frame["ST"], ISHIGAMI_ST, atol=0.05)
    assert (frame["ST_conf"] > 0).all()
    assert list(result.indices["y"].index[:2]) == ["x1", "x2"]  # ranked by ST
    assert result.runs == 2048 * 5


def test_efast_recovers_the_analytic_ishigami_indices():
    result = analyse(_ishigami_factors(), ["y"], Ishigami.evaluate, method="fast", samples=1000, seed=3)
    frame = result.indices["y"].loc[["x1", "x2", "x3"]]
    np.testing.assert_allclose(frame["S1"], ISHIGAMI_S1, atol=0.05)
    np.testing.assert_allclose(frame["ST"], ISHIGAMI_ST, atol=0.05)


def test_sobol_second_order_finds_the_x1_x3_interaction():
    result = analyse(
        _ishigami_factors(), ["y"], Ishigami.evaluate, method="sobol", samples=2048, seed=3, second_order=True
    )
    s2 = result.second_order["y"]
    assert s2.loc["x1", "x3"] == pytest.approx(0.244, abs=0.06)  # ST3 - S13 = S13; S12 = S23 = 0
    assert abs(s2.loc["x1", "x2"]) < 0.06


def test_morris_screens_out_a_dummy_factor_and_convergence_uses_prefixes():
    factors = [*_ishigami_factors(), Factor("dummy", "continuous", 0.0, 1.0)]
    result = analyse(factors, ["y"], lambda x: Ishigami.evaluate(x[:, :3]), method="morris", samples=40, seed=1)
    frame = result.indices["y"]
    assert frame.loc["dummy", "mu_star"] == 0.0
    assert frame.index[-1] == "dummy"
    conv = result.convergence
    assert sorted(conv["samples"].unique()) == [5, 10, 20, 40]
    last = conv[(conv["samples"] == 40) & (conv["index"] == "mu_star")].set_index("factor")["value"]
    np.testing.assert_allclose(last.loc[frame.index], frame["mu_star"])


def test_sobol_samples_must_be_a_power_of_two():
    with pytest.raises(ScenarioError, match="power of 2"):
        analyse(_ishigami_factors(), ["y"], Ishigami.evaluate, method="sobol", samples=100)


def test_replicate_noise_separates_point_noise_from_the_common_draw():
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 2.0, size=(400, 1))  # between-point sd 2 (variance 4)
    common = np.array([[-30.0, 0.0, 10.0, 50.0]])  # a replicate's shared draw: moves every point alike
    y = (signal + common + rng.normal(0, 1.0, size=(400, 4)))[:, :, None]  # point-specific noise, variance 1
    noise = replicate_noise(y, ["y"]).loc["y"]
    assert noise.noise_var == pytest.approx(1.0, rel=0.1)
    assert noise.signal_var == pytest.approx(float(signal.var()), rel=0.1)
    assert noise.common_var == pytest.approx(float(common.var(ddof=1)), rel=0.05)
    assert noise.noise_share == pytest.approx(1 / 5, abs=0.03)
    assert noise.noise_share_of_mean == pytest.approx((1 / 4) / (4 + 1 / 4), abs=0.03)
    assert np.isnan(replicate_noise(y[:, :1], ["y"]).loc["y", "noise_share"])  # one replicate: unknown


# --------------------------------------------------------------------------------------------------
# Factors: integers and categories by equal-probability bins, never by rounding


def test_level_index_gives_equal_probability_bins():
    u = (np.arange(3000) + 0.5) / 3000
    counts = np.bincount(level_index(u, 3))
    assert counts.tolist() == [1000, 1000, 1000]
    assert level_index(1.0, 3) == 2  # the closed upper end falls in the last bin
    assert level_index(0.0, 3) == 0


def test_integer_factor_is_the_floor_of_a_uniform_over_low_to_high_plus_one():
    factor = Factor("programme.twins_per_topic", "integer", 1, 3)
    assert factor.bounds == [1.0, 4.0]
    assert [factor.value(x) for x in (1.0, 1.99, 2.0, 3.5, 4.0)] == [1, 1, 2, 3, 3]
    draws = np.random.default_rng(1).uniform(*factor.bounds, 30000)
    shares = np.bincount([factor.value(x) for x in draws])[1:] / draws.size
    np.testing.assert_allclose(shares, [1 / 3] * 3, atol=0.01)  # rounding would give 1/6, 1/3, 1/3, 1/6


def test_categorical_and_choice_factors_map_to_their_levels():
    matching = Factor("programme.matching", "categorical", levels=("best_performer", "random_better"))
    assert matching.bounds == [0.0, 1.0]
    assert [matching.value(x) for x in (0.0, 0.49, 0.5, 0.99)] == [
        "best_performer",
        "best_performer",
        "random_better",
        "random_better",
    ]
    problem = salib_problem([matching, Factor("learning.forgetting", "continuous", 0.0, 0.03)])
    assert problem["bounds"] == [[0.0, 1.0], [0.0, 0.03]]


def test_choice_levels_edit_the_schedule_and_months_rescale_it():
    scenario = load_scenario("rwanda_tpn")
    coaching = Factor(
        "coaching",
        "choice",
        levels=("none", "virtual"),
        changes=(
            ChoiceLevel(schedule={"coaching_in_person": [], "coaching_virtual": []}),
            ChoiceLevel(schedule={"coaching_in_person": [], "coaching_virtual": [5, 8, 14]}),
        ),
    )
    months = Factor("simulation.months", "integer", 12, 24)
    design = Design(scenario, [coaching, months])
    point = design.overrides({"coaching": "virtual", "simulation.months": 19})
    schedule = {line["activity"]: line["months"] for line in point["programme.schedule"]}
    assert schedule["coaching_virtual"] == [5, 8, 14]
    assert "coaching_in_person" not in schedule
    point = design.overrides({"coaching": "none", "simulation.months": 38})
    sc = scenario.with_overrides(point)
    by_activity = {line.activity: line.months for line in sc.programme.schedule}
    assert by_activity["learning_workshop_virtual"] == [8, 14, 22, 32]
    assert not {"coaching_in_person", "coaching_virtual"} & set(by_activity)


def test_edit_schedule_keeps_every_firing_when_shortened():
    lines = [{"activity": "exchange_visit", "months": [3, 10, 19]}]
    short = edit_schedule(lines, {}, 19, 6)
    assert short == [{"activity": "exchange_visit", "months": [1, 4, 6]}]


def test_parse_param_forms():
    assert parse_param("learning.forgetting") == ("learning.forgetting", {})
    assert parse_param("costs.staff_day=20:60") == ("costs.staff_day", {"low": 20.0, "high": 60.0})
    assert parse_param("programme.matching=best_performer,random_better") == (
        "programme.matching",
        {"levels": ["best_performer", "random_better"]},
    )
    with pytest.raises(ScenarioError, match="LOW and HIGH"):
        parse_param("costs.staff_day=a:b")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning.nope": {}}, "unknown key 'learning.nope'"),
        ({"programme.matching": {}}, "not a number; give levels"),
        ({"learning.region_distance": {}}, "no plausible range"),
        ({"learning.forgetting": {"low": 0.0, "high": 2.0}}, r"learning.forgetting.*less than or equal to 1"),
        ({"programme.twins_per_topic": {"low": 1, "high": 2.5}}, "whole numbers"),
        ({"programme.matching": {"levels": ["best_performer", "nearest"]}}, "unknown name 'nearest'"),
    ],
)
def test_build_factors_rejects_bad_specs_with_one_clear_line(params, message):
    scenario = load_scenario("rwanda_tpn")
    with pytest.raises(ScenarioError, match=message) as info:
        build_factors(scenario, SensitivitySpec(params=params), "f.toml: sensitivity")
    assert str(info.value).startswith("f.toml: sensitivity.params.")


def test_two_factors_may_not_vary_the_same_thing():
    scenario = load_scenario("rwanda_tpn")
    coaching = {"levels": {"a": {}, "b": {"schedule": {"coaching_virtual": []}}}}
    clash = {"levels": {"a": {}, "b": {"schedule": {"coaching_virtual": [5, 8]}}}}
    spec = SensitivitySpec(choices={"coaching": coaching, "virtual": clash})
    with pytest.raises(ScenarioError, match="schedule:coaching_virtual is varied by both 'coaching' and 'virtual'"):
        build_factors(scenario, spec)
    by_key = {"levels": {"a": {}, "b": {"overrides": {"learning.forgetting": 0.0}}}}
    spec = SensitivitySpec(params={"learning.forgetting": {}}, choices={"no_forgetting": by_key})
    with pytest.raises(ScenarioError, match=r"learning\.forgetting is varied by both"):
        build_factors(scenario, spec)


# --------------------------------------------------------------------------------------------------
# Real twinsim runs


def test_a_parameter_that_cannot_matter_gets_a_total_index_near_zero():
    scenario = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    spec = SensitivitySpec(
        method="sobol",
        samples=8,
        outputs=["mean_gain", "total_cost", "selected_vs_not.cbhi_coverage"],
        params={
            "costs.volunteer_day": {"low": 200.0, "high": 500.0},  # a price the TPN does not pay: cannot matter
            "costs.staff_day": {"low": 20.0, "high": 60.0},  # a price; it also sets staff days (ODD 7.20)
            "topics.accreditation.indicator_max": {"low": 50.0, "high": 100.0},  # a hospital topic's scale
            "topics.accreditation.interest_mean": {"low": 0.2, "high": 0.8},  # its draws: hospitals only
            "learning.forgetting": {},
        },
    )
    result = run_sensitivity(scenario, spec)
    st = {out: frame["ST"] for out, frame in result.indices.items()}
    assert st["mean_gain"]["costs.volunteer_day"] == pytest.approx(0.0, abs=1e-9)
    assert st["total_cost"]["learning.forgetting"] == pytest.approx(0.0, abs=1e-9)
    assert st["selected_vs_not.cbhi_coverage"]["topics.accreditation.indicator_max"] == pytest.approx(0.0, abs=1e-9)
    # the hospital topic's interest is drawn from its own stream: the districts' draws stay common random numbers
    assert st["selected_vs_not.cbhi_coverage"]["topics.accreditation.interest_mean"] == pytest.approx(0.0, abs=1e-9)
    assert st["mean_gain"]["topics.accreditation.indicator_max"] > 0  # it does move the mean over all topics
    assert st["mean_gain"]["learning.forgetting"] > 0.3
    assert st["total_cost"]["costs.volunteer_day"] == pytest.approx(0.0, abs=1e-9)
    assert st["total_cost"]["costs.staff_day"] > 0.1  # a price moves the cost (topic interest moves it more)
    assert result.runs == 8 * 7


def test_scenario_evaluator_uses_run_points_rows_and_replicates():
    scenario = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    calls = []

    def recording_runner(sc, points, replicates=1, seed=None, **kw):
        calls.append((len(points), replicates))
        return run_points(sc, points, replicates, seed, **kw)

    params = {"learning.forgetting": {}}
    spec = SensitivitySpec(method="morris", samples=2, replicates=2, outputs=["mean_gain"], params=params)
    result = run_sensitivity(scenario, spec, runner=recording_runner)
    assert calls == [(1, 1), (4, 2)]  # one output check, then 2 trajectories x 2 points, 2 replicates each
    assert result.y.shape == (4, 2, 1)
    assert result.noise.loc["mean_gain", "replicates"] == 2
    # common random numbers: replicate r of every point uses the same seed, so equal points give equal runs
    again = run_points(scenario, [{"learning.forgetting": float(result.x[0, 0])}], 2, scenario.simulation.seed)
    np.testing.assert_allclose(again["mean_gain"], result.y[0, :, 0])


def test_delivery_model_is_a_categorical_factor_in_real_runs():
    scenario = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    spec = SensitivitySpec(
        samples=4,
        outputs=["total_cost"],
        params={"programme.delivery_model": {"levels": ["tpn_network", "none"]}, "learning.forgetting": {}},
    )
    result = run_sensitivity(scenario, spec)
    cost = result.y[:, 0, 0]
    chosen = np.array([Factor("d", "categorical", levels=(0, 1)).value(u) for u in result.x[:, 0]])
    assert (cost[chosen == 1] == 0).all() and (cost[chosen == 0] > 0).all()  # "none" costs nothing
    frame = result.indices["total_cost"]
    assert frame.loc["learning.forgetting", "ST"] == pytest.approx(0.0, abs=1e-9)
    assert frame.index[0] == "programme.delivery_model"


def test_a_bad_sensitivity_table_names_the_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('extends = "rwanda_tpn.toml"\n[sensitivity]\nmethod = "pawn"\n')
    with pytest.raises(ScenarioError, match=r"bad.toml: sensitivity.method: unknown method 'pawn'; allowed: fast"):
        load_scenario(path)
    path.write_text(
        'extends = "rwanda_tpn.toml"\n[sensitivity.params."learning.forgetting"]\nlow = 0.02\nhigh = 0.01\n'
    )
    with pytest.raises(ScenarioError, match="high must be greater than low"):
        load_scenario(path)


def test_unknown_output_names_the_available_ones():
    scenario = load_scenario("rwanda_tpn")
    spec = SensitivitySpec(method="morris", samples=2, outputs=["gain"], params={"learning.forgetting": {}})
    with pytest.raises(ScenarioError, match=r"--output gain: not a numeric summary output; available: .*mean_gain"):
        run_sensitivity(scenario, spec)


def test_bundled_design_analysis_resolves_its_factors():
    scenario = load_scenario("rwanda_design_sensitivity")
    factors = {f.name: f for f in build_factors(scenario)}
    assert factors["programme.matching"].kind == "categorical"
    assert factors["programme.twins_per_topic"].kind == "integer"
    assert (factors["programme.mentor_load_cap"].low, factors["programme.mentor_load_cap"].high) == (1, 6)
    assert factors["coaching"].kind == "choice"
    assert factors["learning.forgetting"].bounds == [0.01, 0.05]  # the schema's plausible range


# --------------------------------------------------------------------------------------------------
# CLI


def test_cli_json_has_exactly_the_documented_shape(tmp_path):
    runner = CliRunner()
    args = [
        "sensitivity",
        "rwanda_tpn",
        "--method",
        "sobol",
        "--samples",
        "4",
        "--param",
        "learning.forgetting",
        "--param",
        "programme.matching=best_performer,random_better",
        "--output",
        "mean_gain",
        "--set",
        "simulation.followup_months=0",
        "--second-order",
        "--out",
        str(tmp_path),
        "--json",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"method", "samples", "runs", "posterior", "outputs"}
    assert data["posterior"].endswith("posterior.csv")  # the scenario's posterior, on by default
    assert (data["method"], data["samples"], data["runs"]) == ("sobol", 4, 4 * (2 * 2 + 2))
    assert set(data["outputs"]["mean_gain"]) == {"learning.forgetting", "programme.matching"}
    assert set(data["outputs"]["mean_gain"]["learning.forgetting"]) == {"S1", "S1_conf", "ST", "ST_conf"}
    for name in ("indices.csv", "noise.csv", "runs.csv", "second_order.csv", "indices.png", "convergence.png"):
        assert (tmp_path / name).is_file()
    assert len(pd.read_csv(tmp_path / "runs.csv")) == 24
    ranked = pd.read_csv(tmp_path / "indices.csv")
    assert (
        ranked.loc[ranked["factor"] == "programme.matching", "range"].item() == "one of best_performer, random_better"
    )


def test_cli_morris_json_and_table():
    runner = CliRunner()
    base = ["sensitivity", "rwanda_tpn", "--method", "morris", "--samples", "2", "--param", "learning.forgetting"]
    base += ["--set", "simulation.followup_months=0", "--output", "mean_gain"]
    res = runner.invoke(app, [*base, "--json"])
    assert res.exit_code == 0, res.output
    entry = json.loads(res.stdout)["outputs"]["mean_gain"]["learning.forgetting"]
    assert set(entry) == {"mu_star", "mu_star_conf", "sigma"}
    res = runner.invoke(app, base)
    assert res.exit_code == 0
    assert "learning.forgetting" in res.stdout and "mu*" in res.stdout
    mu_star = json.loads(runner.invoke(app, [*base, "--json"]).stdout)["outputs"]["mean_gain"]["learning.forgetting"]
    row = next(line for line in res.stdout.splitlines() if "learning.forgetting" in line)
    assert f"{mu_star['mu_star']:.3g}" in row


def test_the_posterior_changes_the_runs_and_workers_do_not():
    from twinsim.analysis.sensitivity import design_keys
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    scenario = load_scenario("rwanda_tpn", {"simulation.followup_months": 0})
    post = load_posterior(resolve_posterior("rwanda_tpn"), scenario)
    params = {"learning.forgetting": {}, "learning.peer_contact_rate": {}}
    spec = SensitivitySpec(method="morris", samples=2, replicates=2, outputs=["mean_gain"], params=params)
    assert design_keys(build_factors(scenario, spec)) == set(params)
    without = run_sensitivity(scenario, spec)
    serial = run_sensitivity(scenario, spec, posterior=post)
    parallel = run_sensitivity(scenario, spec, posterior=post, options={"executor": 2})
    assert without.posterior is None and serial.posterior == post.source
    np.testing.assert_array_equal(serial.x, without.x)  # the same design ...
    assert not np.allclose(serial.y, without.y)  # ... run with other parameter values
    np.testing.assert_array_equal(parallel.y, serial.y)  # 1 or 2 workers: the same runs
    pd.testing.assert_frame_equal(parallel.indices["mean_gain"], serial.indices["mean_gain"])
    # a factor's key comes from the design, the others from replicate r's posterior draw
    seed = scenario.simulation.seed
    for r in range(2):
        row = post.row(post.draw_index(seed, r))
        point = {k: float(serial.x[0, i]) for i, k in enumerate(params)}
        drawn = {k: v for k, v in row.items() if k not in params}
        again = run_points(scenario.with_overrides(drawn), [point], 2, seed)
        assert again["mean_gain"].iloc[r] == pytest.approx(serial.y[0, r, 0])


def test_cli_posterior_is_on_by_default_and_no_posterior_turns_it_off():
    runner = CliRunner()
    base = ["sensitivity", "rwanda_tpn", "--method", "morris", "--samples", "2", "--param", "learning.forgetting"]
    base += ["--set", "simulation.followup_months=0", "--output", "mean_gain", "-r", "2"]
    on = runner.invoke(app, base)
    assert on.exit_code == 0, on.output
    assert "Parameter uncertainty: replicate r of every design point drew" in on.stdout
    off = runner.invoke(app, [*base, "--no-posterior", "--json"])
    assert off.exit_code == 0 and json.loads(off.stdout)["posterior"] is None
    both = runner.invoke(app, [*base, "--no-posterior", "--posterior", "rwanda_tpn"])
    assert both.exit_code == 2 and "--no-posterior" in both.stderr


def test_cli_bad_input_exits_2_with_one_line():
    runner = CliRunner()
    res = runner.invoke(app, ["sensitivity", "rwanda_tpn", "--method", "pawn", "--param", "learning.forgetting"])
    assert res.exit_code == 2
    assert "sensitivity.method: unknown method 'pawn'" in res.stderr
    res = runner.invoke(app, ["sensitivity", "rwanda_tpn", "--param", "learning.forgetting=0:2"])
    assert res.exit_code == 2
    assert "learning.forgetting" in res.stderr and "Traceback" not in res.stderr
