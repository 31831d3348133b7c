"""Health-economic arithmetic against hand-computed numbers."""

import math

import numpy as np
import pytest

from twinsim.analysis.economics import (
    DOMINATED,
    EXTENDED,
    NON_DOMINATED,
    acceptability,
    dominance,
    frontier_icers,
    icer,
    net_monetary_benefit,
)

# A textbook set: A (0, 0), B (100, 2), C (300, 3), D (250, 2.5), E (150, 1.5).
# E is dominated by B (cheaper, more effective). Sorted by effect: A, B, D, C with ICERs 50, 300, 100:
# D's 300 exceeds C's 100 against D, so D is extended-dominated; then C against B is 200 > 50: frontier A, B, C.
COSTS = [0.0, 100.0, 300.0, 250.0, 150.0]
EFFECTS = [0.0, 2.0, 3.0, 2.5, 1.5]


def test_icer_is_the_ratio_of_increments():
    assert icer(200.0, 4.0) == 50.0
    assert icer(-30.0, -2.0) == 15.0
    assert math.isnan(icer(10.0, 0.0))


def test_dominance_and_extended_dominance_on_a_hand_computed_set():
    assert dominance(COSTS, EFFECTS) == [NON_DOMINATED, NON_DOMINATED, NON_DOMINATED, EXTENDED, DOMINATED]


def test_frontier_icers_on_a_hand_computed_set():
    got = frontier_icers(COSTS, EFFECTS)
    assert math.isnan(got[0]) and got[1] == 50.0 and got[2] == 200.0
    assert math.isnan(got[3]) and math.isnan(got[4])


def test_equal_options_dominate_neither_and_costlier_equal_effect_is_dominated():
    assert dominance([10.0, 10.0], [1.0, 1.0]) == [NON_DOMINATED, NON_DOMINATED]
    assert dominance([10.0, 12.0], [1.0, 1.0]) == [NON_DOMINATED, DOMINATED]


def test_net_monetary_benefit():
    assert net_monetary_benefit(2.0, 100.0, 80.0) == 60.0
    np.testing.assert_array_equal(net_monetary_benefit(np.array([1.0, 2.0]), 100.0, 100.0), [0.0, 100.0])


def test_acceptability_curve_on_hand_computed_replicates():
    # option 0 costs nothing and does nothing; option 1 costs 100 for 1 point (replicate 0) or 2 points (replicate 1)
    effects = np.array([[0.0, 1.0], [0.0, 2.0]])
    costs = np.array([[0.0, 100.0], [0.0, 100.0]])
    curve = acceptability(effects, costs, [40.0, 75.0, 150.0])
    # wtp 40: NMB of option 1 is -60, -20: never best; wtp 75: -25, +50: best once; wtp 150: +50, +200: always
    np.testing.assert_allclose(curve[:, 1], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(curve.sum(axis=1), 1.0)


def test_acceptability_splits_exact_ties():
    curve = acceptability(np.array([[1.0, 1.0]]), np.array([[5.0, 5.0]]), [10.0])
    assert curve.tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize("seed", range(5))
def test_frontier_icers_increase_along_the_frontier(seed):
    rng = np.random.default_rng(seed)
    costs, effects = rng.uniform(0, 100, 8), rng.uniform(0, 10, 8)
    labels = dominance(costs, effects)
    by_effect = sorted(zip(effects, frontier_icers(costs, effects), strict=True))
    ratios = [r for _, r in by_effect if not math.isnan(r)]
    assert ratios == sorted(ratios)
    assert labels.count(NON_DOMINATED) == len(ratios) + 1
