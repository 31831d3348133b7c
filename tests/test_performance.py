"""Recording modes, the vectorised matching and event learning, and models that do not pile up."""

import gc
import weakref

import mesa
import numpy as np
import pandas as pd
import pytest

import twinsim
from twinsim.kernel.agents import Institution
from twinsim.kernel.recording import AGGREGATE_KEYS, PanelWriter
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.programme.activity import _quantile_along_rows
from twinsim.programme.matching import MATCHING_RULES, MatchRequest


@pytest.fixture(scope="module")
def rwanda():
    return twinsim.load_scenario("rwanda_tpn")


# --------------------------------------------------------------------------------------------------
# Recording modes


def test_aggregate_mode_gives_the_aggregates_of_the_full_panel(rwanda):
    full = twinsim.simulate(rwanda, seed=4)
    lean = twinsim.simulate(rwanda.with_overrides({"recording.mode": "aggregate"}), seed=4)
    assert lean.history is None
    expected = (
        full.panel.groupby(AGGREGATE_KEYS, observed=True)
        .agg(institutions=("capacity", "size"), capacity=("capacity", "mean"), indicator=("indicator", "mean"))
        .reset_index()
    )
    got = lean.aggregates.sort_values(AGGREGATE_KEYS).reset_index(drop=True)
    expected = expected.sort_values(AGGREGATE_KEYS).reset_index(drop=True)
    assert len(got) == len(expected) == (full.history.shape[0]) * len(expected.groupby(AGGREGATE_KEYS[1:]).size())
    for col in ("kind", "region", "topic"):
        assert list(got[col].astype(str)) == list(expected[col].astype(str))
    np.testing.assert_array_equal(got["month"], expected["month"])
    np.testing.assert_array_equal(got["selected"], expected["selected"])
    np.testing.assert_array_equal(got["institutions"], expected["institutions"])
    np.testing.assert_allclose(got["capacity"], expected["capacity"], rtol=1e-12)
    np.testing.assert_allclose(got["indicator"], expected["indicator"], rtol=1e-12)
    assert pd.Series(lean.summary()).equals(pd.Series(full.summary()))  # the endline is kept in every mode (NaN == NaN)
    with pytest.raises(ValueError, match="aggregate"):
        _ = lean.panel


def test_streamed_panel_on_disk_equals_the_in_memory_panel(rwanda, tmp_path, monkeypatch):
    monkeypatch.setattr(PanelWriter, "rows_per_group", 1000)  # several row groups of whole months
    memory = twinsim.simulate(rwanda, seed=5, replicate=2)
    streamed = twinsim.simulate(rwanda.with_overrides({"recording.panel_dir": str(tmp_path)}), seed=5, replicate=2)
    assert streamed.history is None
    assert streamed.panel_path == tmp_path / "panel_seed5_rep2.parquet" and streamed.panel_path.is_file()
    import pyarrow.parquet as pq

    assert pq.ParquetFile(streamed.panel_path).num_row_groups > 5
    on_disk = pd.read_parquet(streamed.panel_path)
    pd.testing.assert_frame_equal(on_disk, memory.panel)
    assert streamed.summary() == memory.summary()


def test_aggregate_mode_runs_a_network_without_holding_the_panel(rwanda):
    counts = {"population.kinds.hospital.counts": {"North": 400, "South": 600}, "recording.mode": "aggregate"}
    model = TwinningModel(rwanda.with_overrides(counts), run_seed_sequence(1))
    model.run()
    assert model.history is None and model._institutions is None  # no panel, no agent objects needed
    assert model.recorder.aggregates.sums.shape[0] == model.months_total + 1


# --------------------------------------------------------------------------------------------------
# Vectorised matching


def _request(rng, n=300, n_topics=3, cap=2, twins=1, min_gap=0.05, kinds=3, fewest_leaders_first=False):
    capacity = rng.random((n, n_topics))
    kind = rng.integers(0, kinds, n)
    applicable = rng.random((n, n_topics)) < 0.8
    capacity *= applicable
    selected = applicable & (rng.random((n, n_topics)) < 0.5)
    return MatchRequest(
        capacity=capacity,
        selected=selected,
        applicable=applicable,
        group=kind,
        similarity=lambda a, b: np.exp(-np.abs(a - b) / n),
        twins_per_topic=twins,
        mentor_load_cap=cap,
        min_gap=min_gap,
        rng=lambda row: rng,
        fewest_leaders_first=fewest_leaders_first,
    )


@pytest.mark.parametrize("promise", [False, True])
@pytest.mark.parametrize("rule", sorted(MATCHING_RULES))
@pytest.mark.parametrize(("cap", "twins", "min_gap"), [(1, 1, 0.0), (2, 2, 0.05), (3, 3, 0.2)])
def test_matching_respects_load_cap_kind_and_a_strictly_better_mentor(rule, cap, twins, min_gap, promise):
    rng = np.random.default_rng(cap * 10 + twins)
    req = _request(rng, cap=cap, twins=twins, min_gap=min_gap, fewest_leaders_first=promise)
    ties = MATCHING_RULES[rule](req)
    assert len(ties) > 0
    c = req.capacity
    assert (np.bincount(ties.mentor, minlength=len(c)) <= cap).all()
    assert (req.group[ties.learner] == req.group[ties.mentor]).all()
    lead = c[ties.mentor, ties.topic] - c[ties.learner, ties.topic]
    assert (lead > 0).all() and (lead >= min_gap).all()
    assert req.selected[ties.learner, ties.topic].all() and req.applicable[ties.mentor, ties.topic].all()
    keys = np.stack([ties.learner, ties.mentor, ties.topic])
    assert np.unique(keys, axis=1).shape[1] == len(ties)  # no pair twice on a topic
    assert (np.bincount(ties.learner * c.shape[1] + ties.topic) <= twins).all()


@pytest.mark.parametrize(
    "setting",
    [
        {"seed": 9, "n": 200, "cap": 2, "twins": 2},
        # roomy mentors and few peers: in later rounds learners meet peers they already twin with (clashes)
        {"seed": 0, "n": 60, "cap": 20, "twins": 3, "kinds": 1, "min_gap": 0.02},
        {"seed": 2, "n": 60, "cap": 20, "twins": 3, "kinds": 1, "min_gap": 0.02},
        {"seed": 3, "n": 200, "cap": 1, "twins": 1, "fewest_leaders_first": True},
        {"seed": 4, "n": 200, "cap": 2, "twins": 2, "fewest_leaders_first": True},
        {"seed": 5, "n": 60, "cap": 20, "twins": 3, "kinds": 1, "min_gap": 0.02, "fewest_leaders_first": True},
    ],
)
def test_best_performer_is_the_sequential_greedy_choice(setting):
    """Each learner, in order of capacity, gets the best peer with room that leads it by min_gap.

    In increasing capacity (largest gaps first); with ``fewest_leaders_first`` the first round in decreasing capacity.
    """
    setting = dict(setting)
    req = _request(np.random.default_rng(setting.pop("seed")), **setting)
    ties = MATCHING_RULES["best_performer"](req)
    c, n = req.capacity, len(req.capacity)
    load = np.zeros(n, dtype=int)
    expected = set()
    for round_ in range(req.twins_per_topic):
        for t in range(c.shape[1]):
            down = round_ == 0 and req.fewest_leaders_first
            for i in sorted(np.flatnonzero(req.selected[:, t]), key=lambda i: -c[i, t] if down else c[i, t]):
                cand = [
                    j
                    for j in range(n)
                    if req.applicable[j, t]
                    and req.group[j] == req.group[i]
                    and c[j, t] > c[i, t]
                    and c[j, t] >= c[i, t] + req.min_gap
                    and load[j] < req.mentor_load_cap
                    and (i, j, t) not in expected
                ]
                if cand:
                    j = max(cand, key=lambda j: c[j, t])
                    expected.add((i, j, t))
                    load[j] += 1
    got = {(int(i), int(j), int(t)) for i, j, t in zip(ties.learner, ties.mentor, ties.topic, strict=True)}
    assert got == expected


def test_best_performer_matches_100k_institutions_quickly(rwanda):
    import time

    rng = np.random.default_rng(1)
    req = _request(rng, n=100_000, n_topics=4, cap=3, kinds=2)
    start = time.perf_counter()
    ties = MATCHING_RULES["best_performer"](req)
    assert time.perf_counter() - start < 10  # a quadratic loop would take hours
    assert len(ties) > 50_000 and (np.bincount(ties.mentor) <= 3).all()


def test_event_quantile_equals_numpy_quantile_to_the_last_bit():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 40)), int(rng.integers(1, 5)))
        values = rng.random(shape)
        for q in (0.9, 0.5, 0.25, 1.0):
            assert np.array_equal(_quantile_along_rows(values, q), np.quantile(values, q, axis=1))


# --------------------------------------------------------------------------------------------------
# Models do not accumulate (Mesa 3.3 keeps every model with an agent in mesa.Agent._ids)


def test_finished_models_are_freed_and_agent_ids_do_not_grow(rwanda):
    before, before_institutions = len(mesa.Agent._ids), len(Institution._ids)
    refs = []
    for r in range(5):
        result = twinsim.simulate(rwanda, seed=1, replicate=r)
        assert [a.unique_id for a in result.model.agents][:2] == [1, 2]  # Mesa numbering, per model
        refs.append(weakref.ref(result.model))
    del result
    gc.collect()
    assert all(ref() is None for ref in refs)
    assert len(mesa.Agent._ids) <= before  # earlier tests' models may be collected meanwhile
    assert len(Institution._ids) <= before_institutions


def test_cli_run_in_aggregate_mode_writes_aggregates_and_figure_and_no_panel(tmp_path):
    from typer.testing import CliRunner

    from twinsim.cli import app

    res = CliRunner().invoke(
        app, ["run", "rwanda_tpn", "--set", "recording.mode=aggregate", "--out", str(tmp_path), "--format", "csv"]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "aggregates.csv").stat().st_size > 0 and (tmp_path / "ledger.csv").is_file()
    assert not (tmp_path / "panel.csv").exists()
    assert (tmp_path / "trajectories.png").stat().st_size > 0  # the figure, from the aggregates
    table = pd.read_csv(tmp_path / "aggregates.csv")
    assert {*AGGREGATE_KEYS, "institutions", "capacity", "indicator"} <= set(table.columns)


def test_mean_indicator_by_month_is_the_same_in_every_recording_mode(rwanda):
    panel = twinsim.simulate(rwanda, seed=4)
    aggregate = twinsim.simulate(rwanda.with_overrides({"recording.mode": "aggregate"}), seed=4)
    assert aggregate.history is None
    np.testing.assert_allclose(aggregate.mean_indicator_by_month(), panel.mean_indicator_by_month(), rtol=1e-12)
    assert len(panel.mean_indicator_by_month()) == panel.model.months_total + 1
