"""Warnings for scenarios that validate but whose results cannot mean anything.

A scenario can pass the schema and still produce a result nobody should read: a comparison with no comparison
group (every institution of a kind chooses every topic it has), a programme whose activities teach nothing (no
learning rates), one that never forms ties (no kickoff), one where no institution has a peer, or activities that
cost money and transfer nothing. :func:`scenario_warnings` names each such problem in one line;
``twinsim validate`` and ``twinsim run`` print them on stderr before running.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from twinsim.programme.registry import ACTIVITIES, DELIVERY_MODELS, effective_rate
from twinsim.scenario.schema import ActivityCost, Scenario, as_scenario

__all__ = ["scenario_warnings"]


def _costs_money(cost: ActivityCost | None, scenario: Scenario) -> bool:
    if cost is None:
        return False
    staff = scenario.costs.value_staff_time and cost.days > 0 and cost.participants > 0 and scenario.costs.staff_day > 0
    paid = cost.per_event > 0 or (cost.per_participant > 0 and cost.participants > 0) or cost.expert_days > 0
    return bool(staff or paid or cost.volunteer_days > 0)


def scenario_warnings(scenario: Scenario | str | Path) -> list[str]:
    """One line per reason the scenario's results cannot mean anything (an empty list when there is none).

    Checks: (1) every institution of a kind chooses all topics that kind has, so there is no not-selected group
    and the paper's selected-vs-not comparison is undefined; (2) no scheduled activity has a learning rate, so the
    activities teach nothing; (3) no kickoff workshop, so no topics are chosen and no ties form; (4) no kind has
    two institutions, so no institution has a peer to twin with; (5) a scheduled activity with a cost but a
    learning rate of zero (it costs money and transfers nothing).

    ``scenario``: a :class:`Scenario`, the name of a bundled scenario or a TOML path.
    """
    scenario = as_scenario(scenario)
    p = scenario.programme
    delivery = DELIVERY_MODELS[p.delivery_model]
    if not delivery.runs_activities:
        return []
    out: list[str] = list(delivery.warnings(scenario))
    kinds_topics = Counter(kind for spec in scenario.topics.values() for kind in spec.kinds)
    for kind in scenario.population.kinds:
        n = kinds_topics.get(kind, 0)
        if n and p.topics_per_institution >= n:
            out.append(
                f"programme.topics_per_institution = {p.topics_per_institution}: every {kind} chooses all {n} of its "
                f"topics, so there is no not-selected group and selected-vs-not is undefined for {kind} topics; "
                f"set it below {n} or read the before-after change"
            )
    activities = list(dict.fromkeys(line.activity for line in p.schedule))
    if not activities:
        out.append("programme.schedule is empty: the programme does nothing")
        return out
    if delivery.needs_kickoff and not any(ACTIVITIES[a].forms_ties for a in activities):
        out.append(
            "programme.schedule has no kickoff_workshop: topics are never chosen and no ties form, so the other "
            "activities cost money and transfer nothing along ties"
        )

    rates = scenario.learning.rates
    if not any(rates.get(a, 0.0) > 0 for a in activities):
        out.append(
            "learning.rates: no scheduled activity has a learning rate > 0, so the activities cost money and teach "
            "nothing (only informal contact between twins, learning.peer_contact_rate, transfers anything); "
            f"give rates for {', '.join(activities)}"
        )
    else:
        for a in activities:
            if ACTIVITIES[a].forms_ties or effective_rate(scenario, a) > 0 or not delivery.needs_kickoff:
                continue
            if _costs_money(scenario.costs.activities.get(a), scenario):
                out.append(f"activity {a!r} costs money but learning.rates.{a} is 0: it transfers nothing")
    if all(sum(spec.counts.values()) < 2 for spec in scenario.population.kinds.values()):
        out.append("population: no kind has two institutions, so nobody has a peer to twin with and no ties can form")
    return out
