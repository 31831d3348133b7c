"""The learning kernel against closed forms."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinsim.kernel import learning

unit = st.floats(0.0, 1.0, allow_nan=False)


def test_transfer_closes_a_fixed_gap_geometrically():
    learner, source, intensity = 0.2, 0.8, 0.3
    caps = [learner]
    for _ in range(10):
        caps.append(caps[-1] + float(learning.transfer(np.array(caps[-1]), np.array(source), intensity, 1e9)))
    gaps = source - np.array(caps)
    np.testing.assert_allclose(gaps, 0.6 * np.exp(-intensity) ** np.arange(11), rtol=1e-9)


def test_absorbable_gap_peaks_at_the_ceiling_and_is_zero_for_peers_behind():
    gaps = np.linspace(0, 1, 1001)
    absorbed = learning.absorbable_gap(gaps, ceiling=0.4)
    assert gaps[np.argmax(absorbed)] == pytest.approx(0.4, abs=1e-3)
    assert learning.absorbable_gap(np.array([-0.3, 0.0]), 0.4).tolist() == [0.0, 0.0]


def test_similarity_is_one_for_identical_peers_and_falls_with_distance():
    lb = np.log(np.array([100.0, 100.0, 200.0]))
    region = np.array([0, 0, 1])
    sim = learning.similarity(lb[[0]], lb, region[[0]], region, weight=1.0, region_distance=0.25)
    assert sim[0] == sim[1] == 1.0
    assert sim[2] == pytest.approx(np.exp(-(np.log(2.0) + 0.25)))


def test_forgetting_decays_gains_above_baseline_geometrically():
    base = np.array([[0.3]])
    cap = np.array([[0.7]])
    for _ in range(5):
        cap = cap + learning.forgetting(cap, base, 0.1)
    assert cap[0, 0] == pytest.approx(0.3 + 0.4 * 0.9**5)


def test_own_improvement_closes_the_remaining_gap_to_full_capacity_geometrically():
    cap = np.array([[0.5]])
    for _ in range(12):
        cap = cap + learning.own_improvement(cap, np.array([[1.0]]), np.array([0.5]), trend=0.01, motivation=0.02)
    assert cap[0, 0] == pytest.approx(1 - 0.5 * (1 - 0.02) ** 12)


def test_turnover_loses_a_share_of_the_gains_above_baseline():
    cap, base = np.array([[0.8], [0.8]]), np.array([[0.4], [0.4]])
    loss = learning.turnover_loss(cap, base, 0.25)
    assert (cap + loss)[:, 0].tolist() == pytest.approx([0.7, 0.7])


def test_engagement_falls_with_mentoring_load_and_stays_in_unit_interval():
    eng = learning.engagement(np.array([1.0, 1.0, 1.0]), np.ones(3), np.array([0, 2, 50]), 0.7, 0.1)
    assert eng.tolist() == pytest.approx([1.0, 0.8, 0.0])


@given(unit, unit, st.floats(0, 50), st.floats(0.01, 10))
def test_transfer_never_overshoots_the_source_nor_moves_a_leader(learner, source, intensity, ceiling):
    gain = float(learning.transfer(np.array(learner), np.array(source), intensity, ceiling))
    assert gain >= 0
    if source <= learner:
        assert gain == 0
    else:
        assert learner + gain <= source + 1e-12
