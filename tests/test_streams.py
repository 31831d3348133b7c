"""The counter-based random streams: right distributions, addressable numbers, independent quantities."""

import numpy as np
import pytest
from scipy import stats

import twinsim
from twinsim.kernel.streams import ReplicateStreams, run_seed_sequence
from twinsim.model import TwinningModel


@pytest.fixture(scope="module")
def streams() -> ReplicateStreams:
    return ReplicateStreams([run_seed_sequence(11, r) for r in range(400)])


def test_uniform_normal_and_gumbel_numbers_follow_their_distributions(streams):
    u = streams.uniform("dynamics", "u", (500,)).ravel()
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = streams.normal("population", "z", (500,)).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 0.02
    g = streams.gumbel("choice", "g", (500,)).ravel()
    assert stats.kstest(g, "gumbel_r").pvalue > 1e-3


@pytest.mark.parametrize(("a", "b"), [(2.0, 3.0), (0.5, 0.7), (9.0, 1.5), (0.2, 5.0)])
def test_beta_numbers_have_the_beta_distribution_for_shapes_above_and_below_one(streams, a, b):
    x = streams.beta("population", f"beta:{a}:{b}", a, b, (250,)).ravel()
    assert stats.kstest(x, "beta", args=(a, b)).pvalue > 1e-3
    assert x.mean() == pytest.approx(a / (a + b), abs=4 * np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)) / x.size))


def test_numbers_of_neighbouring_replicates_and_quantities_are_uncorrelated(streams):
    u = streams.uniform("population", ["p", "q"], (1000,))
    for x, y in [(u[:-1, 0], u[1:, 0]), (u[:, 0], u[:, 1]), (u[:, 0, :-1], u[:, 0, 1:])]:
        assert abs(np.corrcoef(x.ravel(), y.ravel())[0, 1]) < 5 / np.sqrt(x.size)


def test_a_replicate_draws_the_same_numbers_in_any_batch_and_at_any_offset(streams):
    part = ReplicateStreams([run_seed_sequence(11, r) for r in (7, 8, 9)])
    assert np.array_equal(
        part.beta("leadership", "x", 2.0, 3.0, (40,)), streams.beta("leadership", "x", 2.0, 3.0, (40,))[7:10]
    )
    assert np.array_equal(
        part.normal("population", "y", (5, 40))[:, 2:], part.normal("population", "y", (3, 40), offset=80)
    )
    whole = part.beta("leadership", "t", 1.5, 4.0, (6, 40))
    blocks, counters = np.array([0, 2, 1]), np.array([5, 123, 239])
    picked = part.beta_at("leadership", "t", np.full(3, 1.5), np.full(3, 4.0), blocks, counters)
    assert np.array_equal(picked, whole.reshape(3, -1)[blocks, counters])


def test_adding_a_topic_leaves_every_other_draw_unchanged():
    sc = twinsim.load_scenario("rwanda_tpn")
    topic = next(iter(sc.topics.values())).model_dump()
    wider = sc.with_overrides({"topics.extra_topic": topic})
    base, more = TwinningModel(sc, 3, replicates=2), TwinningModel(wider, 3, replicates=2)
    assert np.array_equal(base.budget, more.budget) and np.array_equal(base.leadership, more.leadership)
    k = len(sc.topics)
    assert np.array_equal(base.capacity, more.capacity[:, :k]) and np.array_equal(base.interest, more.interest[:, :k])


def test_streams_are_keyed_by_seed_and_replicate():
    one = ReplicateStreams([run_seed_sequence(1, 0)]).uniform("dynamics", "u", (10,))
    assert not np.array_equal(one, ReplicateStreams([run_seed_sequence(2, 0)]).uniform("dynamics", "u", (10,)))
    assert not np.array_equal(one, ReplicateStreams([run_seed_sequence(1, 1)]).uniform("dynamics", "u", (10,)))
    assert np.array_equal(one, ReplicateStreams([run_seed_sequence(1, 0)]).uniform("dynamics", "u", (10,)))
    with pytest.raises(KeyError):
        ReplicateStreams([run_seed_sequence(1, 0)]).uniform("nonsense", "u", (10,))
