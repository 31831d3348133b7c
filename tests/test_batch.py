"""Batched replicates (twinsim.model.batch): every replicate of a batch is the serial run, bit for bit."""

import math

import numpy as np
import pandas as pd
import pytest

import twinsim
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import run_chunk, run_replicates
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.batch import (
    MAX_BATCH_ROWS,
    BatchModel,
    batch_size,
    batchable,
    learn_from_best_blocks,
    simulate_batch,
)
from twinsim.model.results import simulate
from twinsim.programme.activities import learn_from_best


@pytest.fixture(scope="module")
def rwanda():
    return twinsim.load_scenario("rwanda_tpn")


def _same_summary(a: dict, b: dict) -> bool:
    """Exactly equal (NaN equal to NaN)."""
    same = lambda x, y: x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))  # noqa: E731
    return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)


def _assert_identical(serial, batched) -> None:
    assert _same_summary(serial.summary(), batched.summary())
    for table in ("ledger", "ties", "aggregates", "institutions"):
        pd.testing.assert_frame_equal(getattr(serial, table), getattr(batched, table), check_exact=True)
    if serial.history is None:
        assert batched.history is None
    else:
        assert np.array_equal(serial.history, batched.history)
        pd.testing.assert_frame_equal(serial.panel, batched.panel, check_exact=True)
    assert np.array_equal(serial.model.capacity, batched.model.capacity)
    assert np.array_equal(serial.model.leadership, batched.model.leadership)
    assert np.array_equal(serial.model.cost_by_institution, batched.model.cost_by_institution)


@pytest.mark.parametrize("seed", [20210801, 7])
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"programme.matching": "random_better"},
        {"simulation.followup_months": 0, "recording.mode": "aggregate"},
        {"programme.delivery_model": "none"},
    ],
    ids=["best_performer", "random_better", "no_followup_aggregate", "no_programme"],
)
def test_every_replicate_of_a_batch_is_the_serial_run(rwanda, seed, overrides):
    scenario = rwanda.with_overrides(overrides) if overrides else rwanda
    batch = simulate_batch(scenario, seed, 5)
    assert [r.replicate for r in batch] == list(range(5))
    for r, batched in enumerate(batch):
        _assert_identical(simulate(scenario, seed, r), batched)


@pytest.mark.parametrize(
    "overrides",
    [
        {"programme.twins_per_topic": 2, "programme.mentor_load_cap": 2},
        {"programme.matching": "most_similar", "learning.leadership_turnover": 0.3},
        {"population.kinds.hospital.leadership_mean": 0.8, "learning.leadership_turnover": 0.3},
        {"programme.volume": 0.5, "costs.value_staff_time": True},
        {"programme.mentor_load_cap": 1, "programme.min_gap": 0.0, "programme.topics_per_institution": 3},
    ],
)
def test_batches_stay_exact_on_other_settings(rwanda, overrides):
    scenario = rwanda.with_overrides(overrides)
    for r, batched in enumerate(simulate_batch(scenario, 3, 3, first=2), start=2):
        _assert_identical(simulate(scenario, 3, r), batched)


def test_a_batch_of_fixed_pair_twinning_is_the_serial_run():
    pairs = twinsim.load_scenario("rwanda_pairs")
    for r, batched in enumerate(simulate_batch(pairs, 2, 4)):
        _assert_identical(simulate(pairs, 2, r), batched)


def test_run_replicates_batched_gives_the_serial_summaries_and_tables(rwanda):
    serial = run_replicates(rwanda, 6, seed=11, batch=0, keep_tables=True)
    batched = run_replicates(rwanda, 6, seed=11, batch=4, keep_tables=True)
    for table in ("summaries", "panels", "ledgers", "aggregates"):
        pd.testing.assert_frame_equal(getattr(serial, table), getattr(batched, table), check_exact=True)


def test_run_chunk_batches_a_point_and_keeps_the_serial_rows(rwanda):
    chunk = [
        (0, {}, 0),
        (0, {}, 1),
        (0, {}, 2),
        (1, {"learning.forgetting": 0.05}, 0),
        (1, {"learning.forgetting": 0.05}, 1),
    ]
    for streams in ("common", "independent"):
        batched = run_chunk(rwanda, chunk, 5, streams)
        serial = [row for run in chunk for row in run_chunk(rwanda, [run], 5, streams)]
        assert all(row["error"] is None for row in batched)
        assert [list(row) for row in batched] == [list(row) for row in serial]
        assert all(_same_summary(a, b) for a, b in zip(batched, serial, strict=True))


def test_unbatchable_scenarios_are_refused_with_the_reason(rwanda, tmp_path):
    hybrid = twinsim.load_scenario("rwanda_hybrid")
    assert "hybrid" in batchable(hybrid)
    with pytest.raises(TwinsimError, match="delivery_model"):
        simulate_batch(hybrid, 1, 2)
    streamed = rwanda.with_overrides({"recording.panel_dir": str(tmp_path)})
    with pytest.raises(TwinsimError, match="panel_dir"):
        simulate_batch(streamed, 1, 2)
    assert batchable(rwanda) is None


@pytest.mark.parametrize("overrides", [{}, {"programme.mentor_load_cap": 1, "programme.topics_per_institution": 4}])
def test_batched_best_performer_matching_gives_each_replicate_its_own_ties(rwanda, overrides):
    scenario = rwanda.with_overrides(overrides) if overrides else rwanda
    for r, batched in enumerate(simulate_batch(scenario, 3, 20)):
        model = TwinningModel(scenario, run_seed_sequence(3, r))
        model.step()  # the kickoff forms the ties
        for field in ("learner", "mentor", "topic"):
            assert np.array_equal(getattr(model.ties, field), getattr(batched.model.ties, field))


def test_batch_size_leaves_large_networks_and_unbatchable_scenarios_alone(rwanda):
    assert batch_size(rwanda, 50) == 50
    assert batch_size(rwanda, 10**6) == MAX_BATCH_ROWS // rwanda.n_institutions
    assert batch_size(twinsim.load_scenario("rwanda_hybrid"), 50) == 1
    assert batch_size(rwanda, 1) == 1


def test_a_batch_of_counterfactual_runs_is_the_serial_counterfactual(rwanda):
    for r, batched in enumerate(simulate_batch(rwanda, 9, 3, programme_learning=False)):
        _assert_identical(simulate(rwanda, 9, r, programme_learning=False), batched)


@pytest.mark.parametrize("by_region", [False, True])
@pytest.mark.parametrize("mixed", [False, True])
def test_event_learning_of_a_batch_is_learn_from_best_over_its_blocks(rwanda, by_region, mixed):
    replicas = [TwinningModel(rwanda, run_seed_sequence(4, r)) for r in range(4)]
    batch, twin = BatchModel(replicas), BatchModel(replicas)
    if mixed:  # a topic that applies to one hospital only: the blocks' groups no longer share their topics
        for model in (batch, twin):
            model.applicable[1, 6] = True
    local = batch.region[: batch.rows] if by_region else np.zeros(batch.rows, dtype=np.int64)
    learn_from_best_blocks(batch, 0.7, local)
    learn_from_best(twin, 0.7, twin.block * (int(local.max()) + 1) + np.tile(local, 4))
    assert np.array_equal(batch.capacity, twin.capacity)
    assert not np.array_equal(batch.capacity, np.concatenate([m.capacity for m in replicas]))
