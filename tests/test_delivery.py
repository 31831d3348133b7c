"""Delivery models: the bundled scenarios, their agents, costs, activity volume and follow-up."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twinsim
from twinsim.errors import ScenarioError
from twinsim.kernel.agents import ExternalExpert, OutsidePartner
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.programme.costs import COST_CATEGORIES
from twinsim.programme.delivery import fixed_pairs
from twinsim.programme.registry import DELIVERY_MODELS

BUNDLED = {
    "rwanda_tpn": "tpn_network",
    "rwanda_pairs": "pair_twinning",
    "rwanda_north_south": "north_south",
    "rwanda_external_experts": "external_experts",
    "rwanda_hybrid": "hybrid",
    "rwanda_no_program": "none",
}


@pytest.fixture(scope="module")
def results():
    return {name: twinsim.simulate(twinsim.load_scenario(name), seed=3) for name in BUNDLED}


def test_every_delivery_model_has_a_bundled_scenario_that_extends_rwanda():
    assert set(BUNDLED.values()) == set(DELIVERY_MODELS)
    tpn = twinsim.load_scenario("rwanda_tpn")
    for name, model in BUNDLED.items():
        sc = twinsim.load_scenario(name)
        assert sc.programme.delivery_model == model
        assert sc.population == tpn.population and sc.topics == tpn.topics and sc.simulation == tpn.simulation


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_total_cost_is_the_sum_of_the_ledger_and_of_the_institutions(results, name):
    res = results[name]
    ledger = res.ledger
    assert res.total_cost == pytest.approx(ledger["total_cost"].sum())
    assert ledger["total_cost"].to_numpy() == pytest.approx(ledger[list(COST_CATEGORIES)].sum(axis=1).to_numpy())
    assert ledger["direct_cost"].to_numpy() == pytest.approx((ledger["event_cost"] + ledger["travel_cost"]).to_numpy())
    assert res.institutions["cost"].sum() == pytest.approx(res.total_cost)
    assert (ledger["month"] <= res.months).all()  # nothing is paid after the programme ends


def test_no_programme_costs_nothing(results):
    res = results["rwanda_no_program"]
    assert res.total_cost == 0 and len(res.ledger) == 0 and res.summary()["ties_formed"] == 0


def test_all_models_share_the_population_and_the_topic_choices(results):
    base = results["rwanda_no_program"].model
    for res in results.values():
        assert np.array_equal(res.history[0], base.history[0])
        assert np.array_equal(res.model.selected, base.selected)


def test_pairs_are_one_to_one_within_a_kind_and_lower_learns_from_higher():
    rng = np.random.default_rng(0)
    capacity = rng.random((7, 2))
    applicable = np.ones((7, 2), dtype=bool)
    kind = np.array([0, 0, 0, 0, 1, 1, 1])
    pairs = fixed_pairs(capacity, applicable, kind)
    assert pairs.shape == (3, 2)  # 2 pairs of kind 0; kind 1 has 3 members: the median one has no partner
    assert len(set(pairs.ravel())) == 6
    assert (kind[pairs[:, 0]] == kind[pairs[:, 1]]).all()
    assert (capacity[pairs[:, 0]].mean(axis=1) <= capacity[pairs[:, 1]].mean(axis=1)).all()


def test_pair_twinning_ties_follow_the_fixed_pairs():
    sc = twinsim.load_scenario("rwanda_pairs")
    model = TwinningModel(sc, run_seed_sequence(2))
    model.form_ties()
    ties = model.ties
    partners = {}
    for a, b in zip(ties.learner, ties.mentor, strict=True):
        partners.setdefault(int(a), set()).add(int(b))
        partners.setdefault(int(b), set()).add(int(a))
    assert all(len(p) == 1 for p in partners.values())  # the same partner for every topic
    gap = model.capacity[ties.mentor, ties.topic] - model.capacity[ties.learner, ties.topic]
    assert (gap >= sc.programme.min_gap - 1e-12).all() and model.selected[ties.learner, ties.topic].all()


def test_north_south_partners_are_extra_agents_that_are_not_evaluated(results):
    res = results["rwanda_north_south"]
    model = res.model
    partners = [a for a in model.agents if isinstance(a, OutsidePartner)]
    assert len(partners) == model.n and len(model.ties) == 0
    assert res.panel["institution"].nunique() == model.n  # the panel holds members only
    state = model.delivery_state
    assert len(state.ties) > 0 and (state.flow > 0).all()
    ledger = res.ledger.set_index("activity")
    assert ledger.loc["volunteer_visit", "volunteer_cost"].sum() > 0


def test_volunteer_time_is_valued_only_when_switched_on():
    sc = twinsim.load_scenario("rwanda_north_south")
    on = twinsim.simulate(sc, seed=4)
    off = twinsim.simulate(sc.with_overrides({"costs.value_volunteer_time": False}), seed=4)
    assert off.ledger["volunteer_cost"].sum() == 0
    assert off.ledger["volunteer_days"].sum() == on.ledger["volunteer_days"].sum() > 0
    expected = on.ledger["volunteer_days"].sum() * sc.costs.volunteer_day
    assert on.total_cost - off.total_cost == pytest.approx(expected)
    assert np.array_equal(on.history, off.history)


def test_external_experts_are_agents_with_limited_days(results):
    res = results["rwanda_external_experts"]
    sc = res.scenario
    experts = [a for a in res.model.agents if isinstance(a, ExternalExpert)]
    assert len(experts) == sc.programme.experts.team_size
    used = res.ledger["expert_days"].sum()
    assert used <= sc.programme.experts.days_available + 1e-9
    assert sum(e.days_contracted - e.days_left for e in experts) == pytest.approx(used)
    assert res.ledger["expert_cost"].sum() == pytest.approx(used * sc.costs.expert_day_rate)
    assert res.model.delivery_state.priorities.sum() == sc.programme.experts.priority_topics


def test_when_expert_days_run_out_activities_fire_only_in_part():
    sc = twinsim.load_scenario("rwanda_external_experts", {"programme.experts.days_available": 100.0})
    res = twinsim.simulate(sc, seed=1)
    assert res.ledger["expert_days"].sum() == pytest.approx(100.0)
    assert (res.ledger["volume"] < 1).any() and (res.ledger.iloc[-1]["volume"] == 0)


def test_coaching_raises_leadership_commitment():
    sc = twinsim.load_scenario("rwanda_external_experts", {"learning.leadership_turnover": 0.0})
    with_experts = TwinningModel(sc, run_seed_sequence(5))
    without = TwinningModel(
        sc.with_overrides({"programme.delivery_model": "none", "programme.schedule": []}), run_seed_sequence(5)
    )
    with_experts.run()
    without.run()
    assert (with_experts.leadership > without.leadership).all()
    assert np.array_equal(without.leadership, TwinningModel(without.params, run_seed_sequence(5)).leadership)


def test_activity_volume_scales_the_variable_costs_but_not_the_launch():
    sc = twinsim.load_scenario("rwanda_tpn")
    one = twinsim.simulate(sc, seed=2).ledger.groupby("activity")["total_cost"].sum()
    two = twinsim.simulate(sc.with_overrides({"programme.volume": 2.0}), seed=2).ledger
    two = two.groupby("activity")["total_cost"].sum()
    assert two["kickoff_workshop"] == one["kickoff_workshop"]
    variable = one.index.drop("kickoff_workshop")
    np.testing.assert_allclose(two[variable], 2 * one[variable])


def test_more_volume_gives_more_effect():
    sc = twinsim.load_scenario("rwanda_tpn")
    gains = [
        twinsim.simulate(sc.with_overrides({"programme.volume": v}), seed=2).summary()["mean_gain"]
        for v in (0.5, 1.0, 2.0)
    ]
    assert gains == sorted(gains) and gains[0] < gains[2]


def test_follow_up_keeps_ties_at_lower_intensity_and_experts_leave(results):
    tpn, experts = results["rwanda_tpn"], results["rwanda_external_experts"]
    end = tpn.months
    # peers keep learning in follow-up: switching follow-up contact off lowers the sustained gain
    quiet = twinsim.simulate(tpn.scenario.with_overrides({"learning.followup_tie_intensity": 0.0}), seed=3)
    assert np.array_equal(quiet.history[: end + 1], tpn.history[: end + 1])
    assert quiet.summary()["sustained_gain"] < tpn.summary()["sustained_gain"]
    # experts leave: nothing of theirs fires after the programme, and their effect decays in follow-up
    assert experts.ledger["month"].max() <= end
    # without the motivation channel (raised leadership keeps driving own improvement until turnover), what
    # the experts transferred decays once they have left
    still = {"learning.motivation_rate": 0.0}
    runs = {
        name: twinsim.simulate(results[name].scenario.with_overrides(still), seed=3).summary()
        for name in ("rwanda_external_experts", "rwanda_no_program")
    }
    experts_s, none = runs["rwanda_external_experts"], runs["rwanda_no_program"]
    at_end = experts_s["mean_gain"] - none["mean_gain"]
    sustained = experts_s["sustained_gain"] - none["sustained_gain"]
    assert 0 < sustained < at_end


def test_summary_has_the_keys_the_sensitivity_analysis_reads(results):
    res = results["rwanda_tpn"]
    s = res.summary()
    m = res.model
    gain_end = (m.indicator(res.history[-1]) - m.indicator(res.history[0]))[m.applicable].mean()
    assert s["sustained_gain"] == pytest.approx(gain_end)
    assert s["cost_per_point"] == pytest.approx(s["total_cost"] / s["mean_gain"])
    sd = []
    for t in range(len(m.topic_names)):
        rows = m.applicable[:, t]
        ind = m.indicator(res.history)[:, rows, t]
        sd.append(ind[res.months].std(ddof=1) - ind[0].std(ddof=1))
    assert s["equity_change"] == pytest.approx(np.mean(sd))


def test_an_activity_needs_a_delivery_model_that_provides_it():
    with pytest.raises(ScenarioError, match=r"leader_coaching.*needs experts"):
        twinsim.load_scenario("rwanda_tpn", {"programme.schedule": [{"activity": "leader_coaching", "months": [2]}]})
    with pytest.raises(ScenarioError, match=r"volunteer_visit.*north_south"):
        twinsim.load_scenario("rwanda_hybrid", {"programme.schedule": [{"activity": "volunteer_visit", "months": [2]}]})


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from(sorted(BUNDLED)),
    volume=st.floats(0.1, 5.0),
    days=st.floats(0.0, 600.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_invariants_hold_for_every_delivery_model(name, volume, days, seed):
    sc = twinsim.load_scenario(
        name,
        {"programme.volume": volume, "programme.experts.days_available": days, "simulation.followup_months": 2},
    )
    res = twinsim.simulate(sc, seed=seed)
    assert np.isfinite(res.history).all() and 0 <= res.history.min() and res.history.max() <= 1
    assert res.institutions["cost"].sum() == pytest.approx(res.total_cost)
    assert res.total_cost == pytest.approx(res.ledger[list(COST_CATEGORIES)].to_numpy().sum())
    assert res.ledger["expert_days"].sum() <= days * volume + 1e-6
    assert 0 <= res.model.leadership.min() and res.model.leadership.max() <= 1


def test_hybrid_forms_the_same_ties_as_the_network():
    tpn = TwinningModel(twinsim.load_scenario("rwanda_tpn"), run_seed_sequence(6))
    hybrid = TwinningModel(twinsim.load_scenario("rwanda_hybrid"), run_seed_sequence(6))
    tpn.step()
    hybrid.step()
    for field in ("learner", "mentor", "topic"):
        np.testing.assert_array_equal(getattr(tpn.ties, field), getattr(hybrid.ties, field))
    assert len([a for a in hybrid.agents if isinstance(a, ExternalExpert)]) == 2


def test_the_expert_programme_works_with_the_ministry_as_the_case_study_describes():
    import twinsim as ts

    run = ts.simulate("rwanda_external_experts", seed=3)
    ledger = run.ledger
    coaching = ledger[ledger["activity"] == "leader_coaching"]
    support = ledger[ledger["activity"] == "delivery_support"]
    assert (coaching["events"] == 42).all()  # the Ministry's 42 senior leaders, one session each per round
    assert (support["events"] == 5).all()  # one event per priority and round, with the Ministry's teams
    assert (coaching["institutions"] == 0).all() and (support["institutions"] == 0).all()  # no member visited
    assert (support["expert_cost"] > 0).all()  # ... and still paid
    assert run.institutions["cost"].sum() == pytest.approx(ledger["total_cost"].sum())  # shared by every member
    traction = run.summary()["priorities_with_traction"]
    assert 0 <= traction <= 5 and traction == int(traction)  # a check of the model (the case study: 2 of 5)
    hybrid = ts.simulate("rwanda_hybrid", seed=3).ledger
    assert (hybrid[hybrid["activity"] == "leader_coaching"]["events"] == 40).all()  # the hybrid coaches members
