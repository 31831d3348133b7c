"""One model for one run and for many: replicate r gives the same numbers whatever runs beside it."""

import math
import subprocess
import sys

import mesa
import numpy as np
import pandas as pd
import pytest

import twinsim
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import run_chunk, run_replicates
from twinsim.experiments.experiment import Experiment
from twinsim.experiments.posterior import load_posterior
from twinsim.kernel.state import STATE
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.results import simulate, simulate_many
from twinsim.model.twinning import programme_sources

POSTERIOR = twinsim.scenario.bundled_scenarios()["rwanda_tpn"].parent / "posteriors" / "rwanda_tpn" / "posterior.csv"

BUNDLED_MODELS = [
    "rwanda_tpn",
    "rwanda_pairs",
    "rwanda_north_south",
    "rwanda_external_experts",
    "rwanda_hybrid",
    "rwanda_no_program",
]


@pytest.fixture(scope="module")
def rwanda():
    return twinsim.load_scenario("rwanda_tpn")


def _same_summary(a: dict, b: dict) -> bool:
    """Exactly equal (NaN equal to NaN)."""
    same = lambda x, y: x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))  # noqa: E731
    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


def _assert_identical(single, batched) -> None:
    assert _same_summary(single.summary(), batched.summary())
    for table in ("ledger", "ties", "aggregates", "institutions", "flows"):
        pd.testing.assert_frame_equal(getattr(single, table), getattr(batched, table), check_exact=True)
    if single.history is None:
        assert batched.history is None
    else:
        assert np.array_equal(single.history, batched.history)
        pd.testing.assert_frame_equal(single.panel, batched.panel, check_exact=True)
    for var in STATE:
        if var.name != "block":
            assert np.array_equal(getattr(single.model, var.name), getattr(batched.model, var.name)), var.name


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_every_replicate_of_a_many_replicate_model_is_the_single_run(name):
    sc = twinsim.load_scenario(name, {"simulation.followup_months": 3})
    for r, batched in enumerate(simulate_many(sc, 7, 3, first=2)):
        _assert_identical(simulate(sc, 7, 2 + r), batched)


@pytest.mark.parametrize(
    "overrides",
    [
        {"programme.matching": "random_better"},
        {"programme.matching": "most_similar", "recording.mode": "aggregate"},
        {"programme.twins_per_topic": 2, "programme.mentor_load_cap": 2},
        {"programme.topic_choice": "random"},
        {"programme.matching": "similar_and_better", "programme.twins_per_topic": 2, "programme.mentor_load_cap": 1},
        {"programme.matching": "random_better", "programme.twins_per_topic": 3, "programme.min_gap": 0.05},
    ],
    ids=["random_better", "most_similar_aggregate", "two_twins", "random_topics", "similar_two_rounds", "random_three"],
)
def test_matching_and_choice_rules_are_batch_invariant(rwanda, overrides):
    sc = rwanda.with_overrides({**overrides, "simulation.followup_months": 2})
    for r, batched in enumerate(simulate_many(sc, 3, 4)):
        _assert_identical(simulate(sc, 3, r), batched)


def test_streamed_panels_are_written_per_replicate(rwanda, tmp_path):
    sc = rwanda.with_overrides({"recording.panel_dir": str(tmp_path), "simulation.followup_months": 1})
    batched = simulate_many(sc, 5, 2)
    single = simulate(sc.with_overrides({"recording.panel_dir": str(tmp_path / "one")}), 5, 1)
    assert batched[1].panel_path.name == single.panel_path.name
    pd.testing.assert_frame_equal(batched[1].panel, single.panel, check_exact=True)


def test_run_replicates_gives_the_same_tables_whatever_the_batch(rwanda):
    one_by_one = run_replicates(rwanda, 6, seed=11, batch=0, keep_tables=True)
    batched = run_replicates(rwanda, 6, seed=11, batch=4, keep_tables=True)
    for table in ("summaries", "panels", "ledgers", "aggregates"):
        pd.testing.assert_frame_equal(getattr(one_by_one, table), getattr(batched, table), check_exact=True)


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_replicates_running_different_posterior_draws_in_one_model_are_their_single_runs(name):
    sc = twinsim.load_scenario(name, {"simulation.followup_months": 3})
    posterior = load_posterior(POSTERIOR)
    scenarios = [sc.with_overrides(posterior.row(i)) for i in (0, 5, 5, 9)]
    seeds = [run_seed_sequence(7, r) for r in range(4)]
    batched = simulate_many(sc, seeds=seeds, scenarios=scenarios)
    assert isinstance(batched[0].model.model.rate("exchange_visit"), np.ndarray)  # really one model of 4 draws
    for r, result in enumerate(batched):
        assert result.scenario is scenarios[r]
        _assert_identical(simulate(scenarios[r], 7, r), result)


def _range(key: str) -> tuple[float, float]:
    """A key's plausible range, else its prior's (unit costs have priors, not plausible ranges)."""
    from twinsim.core.priors import declared_priors
    from twinsim.scenario import Scenario
    from twinsim.scenario.schema import plausible_range

    found = plausible_range(key)
    if found is not None:
        return found
    prior = declared_priors(Scenario)[key][0]
    return prior.low, prior.high


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_replicates_drawing_every_per_replicate_parameter_in_one_model_are_their_single_runs(name):
    from twinsim.model.twinning import BLOCK_PARAMETERS

    sc = twinsim.load_scenario(name, {"simulation.followup_months": 13, "mechanisms.two_way": True})
    rng = np.random.default_rng(3)
    scenarios = []
    for _ in range(3):  # every per-replicate parameter drawn anew over its plausible range, and a transfer rate
        values = {key: float(rng.uniform(*_range(key))) for key in BLOCK_PARAMETERS}
        values["learning.rates.provincial_learning_event"] = float(rng.uniform(0.05, 0.5))
        scenarios.append(sc.with_overrides(values))
    seeds = [run_seed_sequence(4, r) for r in range(3)]
    batched = simulate_many(sc, seeds=seeds, scenarios=scenarios)
    assert isinstance(batched[0].model.model.learning_value("forgetting"), np.ndarray)  # one model of 3 draws
    for r, result in enumerate(batched):
        _assert_identical(simulate(scenarios[r], 4, r), result)


def test_replicates_of_one_model_may_differ_only_in_per_replicate_parameters(rwanda):
    seeds = [run_seed_sequence(1, 0), run_seed_sequence(1, 1)]
    for key, value in (("programme.twins_per_topic", 2), ("learning.region_distance", 0.6)):
        other = rwanda.with_overrides({key: value})
        with pytest.raises(TwinsimError, match=r"may differ only in learning\.rates"):
            TwinningModel(rwanda, seeds=seeds, block_scenarios=[rwanda, other])
    drawn = rwanda.with_overrides({"learning.forgetting": 0.03, "learning.rates.exchange_visit": 0.4})
    assert TwinningModel(rwanda, seeds=seeds, block_scenarios=[rwanda, drawn]).block_scenarios == [rwanda, drawn]


def test_run_chunk_rows_with_a_posterior_do_not_depend_on_the_chunk(rwanda):
    experiment = Experiment.from_points(rwanda, [{}], 8, 5, posterior=load_posterior(POSTERIOR))
    chunk = [(0, r) for r in range(8)]
    together = run_chunk(experiment, chunk)
    apart = [row for run in chunk for row in run_chunk(experiment, [run])]
    assert len({row["parameter_set"] for row in together}) > 2  # several draws ran as one model
    assert all(_same_summary(a, b) for a, b in zip(together, apart, strict=True))


def test_run_chunk_rows_do_not_depend_on_the_chunk(rwanda):
    chunk = [(0, 0), (0, 1), (0, 2), (1, 0)]
    for streams in ("common", "independent"):
        experiment = Experiment.from_points(rwanda, [{}, {"learning.forgetting": 0.05}], 3, 5, streams=streams)
        together = run_chunk(experiment, chunk)
        apart = [row for run in chunk for row in run_chunk(experiment, [run])]
        assert all(row["error"] is None for row in together)
        assert all(_same_summary(a, b) for a, b in zip(together, apart, strict=True))


@pytest.mark.parametrize("name", BUNDLED_MODELS)
def test_the_counterfactual_switches_off_every_programme_source(name):
    """Decomposition: with programme learning off, every delivery model follows the no-programme path."""
    sc = twinsim.load_scenario(name, {"simulation.followup_months": 3})
    off = TwinningModel(sc, 4, replicates=2, programme_learning=False)
    off.run()
    nothing = sc.with_overrides({"programme.delivery_model": "none", "programme.schedule": []})
    none = TwinningModel(nothing, 4, replicates=2)
    none.run()
    np.testing.assert_array_equal(off.history, none.history)
    np.testing.assert_array_equal(off.leadership, none.leadership)
    assert all(not off.flows[source].any() for source in programme_sources())
    if name != "rwanda_no_program":
        on = TwinningModel(sc, 4, replicates=2)
        on.run()
        assert sum(on.flows[source].sum() for source in programme_sources()) > 0
        assert all(ledger for ledger in off.ledgers)  # activities still fire and are costed


def test_flows_by_source_add_up_to_the_change_of_capacity(rwanda):
    model = TwinningModel(rwanda, 2, replicates=3)
    model.run()
    total = sum(model.flows.values())
    change = (model.capacity.astype(float) - model.baseline).reshape(3, model.n_institutions, -1).sum(axis=1)
    np.testing.assert_allclose(total, change, rtol=0, atol=1e-7)  # single-precision state: a month's sums round


# --------------------------------------------------------------------------------------------------
# A real Mesa model


def test_keyword_constructor_takes_a_name_a_seed_and_dotted_overrides():
    model = TwinningModel("rwanda_tpn", seed=3, **{"programme.twins_per_topic": 2}, learning__forgetting=0.02)
    assert model.params.programme.twins_per_topic == 2 and model.params.learning.forgetting == 0.02
    sc = twinsim.load_scenario("rwanda_tpn", {"programme.twins_per_topic": 2, "learning.forgetting": 0.02})
    same = TwinningModel(sc, run_seed_sequence(3, 0))
    np.testing.assert_array_equal(model.capacity, same.capacity)
    np.testing.assert_array_equal(model.selected, same.selected)


def test_running_turns_false_at_the_horizon_and_stepping_past_it_is_an_error():
    model = TwinningModel("rwanda_tpn", seed=1, **{"simulation.followup_months": 2})
    while model.running:
        model.step()
    assert model.month == model.months_total == model.params.simulation.months + 2
    with pytest.raises(TwinsimError, match="horizon"):
        model.step()


def test_mesa_batch_run_works_over_the_model():
    """As Mesa's documentation writes it: the model's keyword arguments and Mesa's own, nothing else."""
    rows = mesa.batch_run(
        TwinningModel, parameters={"scenario": "rwanda_tpn", "seed": [1, 2]}, iterations=1, display_progress=False
    )
    frame = pd.DataFrame(rows)
    assert set(frame["seed"]) == {1, 2}
    assert frame.groupby("seed")["Step"].max().tolist() == [31 - 1, 31 - 1]  # 19 + 12 months; Mesa stops at -1
    assert (frame["month"] == frame["Step"]).all()  # month m's outcomes are collected at Mesa step m
    assert frame["Step"].max() == twinsim.load_scenario("rwanda_tpn").simulation.months + 12 - 1  # Mesa stops at -1
    assert frame["mean_indicator_selected"].notna().all() and (frame["cost"] > 0).any()
    # the collector only reads the state: the end of each batch run is the run of the same seed
    for seed in (1, 2):
        last = frame[frame["seed"] == seed].iloc[-1]
        ended = simulate("rwanda_tpn", seed, agents=False)
        assert last["cost"] == pytest.approx(ended.summary()["total_cost"])


def test_mesa_batch_run_takes_mesa_3s_rng_keyword():
    rows = mesa.batch_run(
        TwinningModel,
        parameters={"scenario": "rwanda_tpn", "rng": [1, 2], "simulation__followup_months": 0},
        iterations=1,
        display_progress=False,
    )
    frame = pd.DataFrame(rows).set_index("rng")
    for rng in (1, 2):
        model = TwinningModel("rwanda_tpn", seed=rng, **{"simulation.followup_months": 0})
        model.run()
        assert frame.loc[rng, "cost"] == pytest.approx(model.total_cost()[0])


def test_rng_is_mesa_3s_name_for_the_seed():
    by_rng, by_seed = TwinningModel(rng=1), TwinningModel(seed=1)
    by_rng.run()
    by_seed.run()
    np.testing.assert_array_equal(by_rng.capacity, by_seed.capacity)
    np.testing.assert_array_equal(by_rng.rng.random(3), TwinningModel(seed=1).rng.random(3))  # Mesa's own generator
    assert not np.array_equal(TwinningModel(rng=2).capacity, TwinningModel(rng=1).capacity)
    sequence = np.random.SeedSequence(7, spawn_key=(0,))
    np.testing.assert_array_equal(TwinningModel(rng=sequence).capacity, TwinningModel(seed=sequence).capacity)
    generator = TwinningModel(rng=np.random.default_rng(5))  # one draw of the generator becomes the seed
    np.testing.assert_array_equal(generator.capacity, TwinningModel(rng=np.random.default_rng(5)).capacity)
    with pytest.raises(TwinsimError, match="give seed or rng"):
        TwinningModel(seed=1, rng=1)
    with pytest.raises(TwinsimError, match=r"rng='x'; give a non-negative int"):
        TwinningModel(rng="x")


def test_datacollector_is_fed_every_month():
    model = TwinningModel("rwanda_tpn", seed=1, datacollector=True, **{"simulation.followup_months": 0})
    model.run()
    frame = model.datacollector.get_model_vars_dataframe()
    assert frame["month"].tolist() == list(range(model.months_total + 1))
    assert frame["cost"].iloc[-1] == pytest.approx(sum(r.total_cost for r in model.ledger))
    assert TwinningModel("rwanda_tpn", datacollector=False).datacollector is None


@pytest.mark.parametrize("name", ["rwanda_tpn", "rwanda_north_south", "rwanda_external_experts"])
def test_the_mesa_model_and_the_simulation_without_mesa_give_the_same_runs(name):
    sc = twinsim.load_scenario(name, {"simulation.followup_months": 2})
    _assert_identical(simulate(sc, 4, 1, agents=False), simulate(sc, 4, 1))
    assert isinstance(simulate(sc, 4, 1).model.model, mesa.Model)


def test_the_engine_and_the_run_command_never_import_mesa_or_pandas():
    """Start-up is most of a short command: the run path reads the posterior and prints without them."""
    code = (
        "import sys, twinsim; from twinsim.cli import main\n"
        "twinsim.run_replicates(twinsim.load_scenario('rwanda_tpn'), 3)\n"
        "for argv in (['rwanda_north_south', '--no-posterior'], ['rwanda_tpn'], ['rwanda_tpn', '--json']):\n"
        "    sys.argv = ['twinsim', 'run', '-r', '2', '-q', *argv]\n"
        "    try:\n        main()\n    except SystemExit as exit:\n        assert not exit.code, exit.code\n"
        "found = sorted({m.split('.')[0] for m in sys.modules} & {'mesa', 'networkx', 'pandas', 'pyarrow', 'scipy'})\n"
        "assert not found, found"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_network_node_ids_are_the_table_ids():
    result = simulate(twinsim.load_scenario("rwanda_tpn"), 2)
    graph, ties = result.model.network, result.ties
    assert sorted(graph.nodes) == result.institutions["institution"].tolist()
    assert sorted(graph.edges()) == sorted(zip(ties["learner"], ties["mentor"], strict=True))
    for row in result.institutions.itertuples():
        assert graph.nodes[row.institution]["name"] == row.name


def test_a_many_replicate_model_refuses_single_run_accessors():
    model = TwinningModel("rwanda_tpn", replicates=2)
    with pytest.raises(TwinsimError, match="replicate"):
        _ = model.network
    assert model.replicate(1).network.number_of_nodes() == model.n_institutions


def test_a_monthly_peer_group_is_one_module_and_one_schedule_line(rwanda):
    schedule = [line.model_dump(by_alias=True) for line in rwanda.programme.schedule]
    with_group = rwanda.with_overrides(
        {"programme.schedule": [*schedule, {"activity": "virtual_peer_group", "every": 1, "from": 2}]}
    )
    assert with_group.programme.schedule[-1].firing_months(19) == list(range(2, 20))
    base, group = simulate(rwanda, 1), simulate(with_group, 1)
    fired = group.ledger[group.ledger["activity"] == "virtual_peer_group"]
    assert len(fired) == 18 and fired["total_cost"].sum() > 0
    assert group.summary()["mean_gain"] > base.summary()["mean_gain"]


def test_a_posterior_draw_set_without_revalidation_equals_the_validated_scenario():
    from twinsim.experiments.posterior import check_posterior_ranges, scenario_for_replicate

    posterior = load_posterior(POSTERIOR)
    for name in ("rwanda_tpn", "rwanda_north_south"):
        sc = twinsim.load_scenario(name)
        check_posterior_ranges(sc, posterior)
        for r in range(0, 40, 7):
            fast = scenario_for_replicate(sc, posterior, 3, r, checked=True)
            assert fast == scenario_for_replicate(sc, posterior, 3, r)
            assert fast.model_dump() == scenario_for_replicate(sc, posterior, 3, r).model_dump()


def test_a_posterior_value_outside_its_parameter_range_is_refused_before_any_run(rwanda, tmp_path):
    from twinsim.errors import ScenarioError
    from twinsim.experiments.posterior import Posterior

    posterior = load_posterior(POSTERIOR)
    samples = posterior.samples.copy()
    samples.iloc[7, 0] = -1.0  # a negative transfer rate in one row
    bad = Posterior(samples, posterior.weights, "bad.csv")
    with pytest.raises(ScenarioError, match=r"bad\.csv \(row 8\): learning\.rates: .*\(got -1\.0\)"):  # the row named
        Experiment.from_points(rwanda, [{}], 4, 5, posterior=bad)  # checked when the design is made


@pytest.mark.parametrize("hospitals", [{"North": 3, "South": 3, "East": 3, "West": 2}, {"North": 1, "East": 2}])
def test_batches_of_populations_of_any_size_are_the_single_runs(hospitals):
    """Row sums must not depend on where a replicate's rows sit in memory (41 and 33 institutions here)."""
    sc = twinsim.load_scenario("rwanda_tpn", {"simulation.followup_months": 2})
    sc = sc.with_overrides({"population.kinds.hospital.counts": hospitals})
    for r, batched in enumerate(simulate_many(sc, 5, 5)):
        _assert_identical(simulate(sc, 5, r), batched)


def test_a_command_process_is_tuned_for_runs_and_a_library_import_is_not():
    code = (
        "import gc, twinsim.cli, twinsim.experiments.engine\n"
        "assert gc.get_freeze_count() == 0, 'import alone changed the collector'\n"
        "from twinsim.experiments.process import tune_for_runs\n"
        "tune_for_runs()\n"
        "assert gc.get_freeze_count() > 1000 and gc.isenabled()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
