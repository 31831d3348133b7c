"""Memory does not grow with the number of runs (issue 27, item 9).

``simulate`` called again and again (a calibration, a sweep written as a loop, an explorer session) must not
keep anything of the runs that are over. Two leaks were found with tracemalloc and are checked here:

- the outside partners', external experts' and ministry leaders' Mesa agents counted in ``mesa.Agent._ids``,
  which holds every model given such an agent alive (``simulate(...).model.model.agents``: 225 KiB per
  north-south run);
- a fresh string per dotted-key lookup kept by CPython's attribute cache (about 0.25 KiB per run).
"""

import gc
import tracemalloc

import pytest

import twinsim
from twinsim.model import TwinningModel


@pytest.fixture(scope="module")
def scenarios():
    short = ["simulation.followup_months=0"]
    return [twinsim.load_scenario(name, short) for name in ("rwanda_north_south", "rwanda_external_experts")]


def _run(scenarios, i):
    result = twinsim.simulate(scenarios[i % len(scenarios)], seed=i)
    assert len(result.model.model.agents) > 0  # the delivery model's own agents too, created after the run


@pytest.mark.slow
def test_simulate_keeps_nothing_of_finished_runs(scenarios):
    for i in range(100):
        _run(scenarios, i)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(100, 140):  # warm up under tracing (first-call caches)
            _run(scenarios, i)
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for i in range(140, 340):
            _run(scenarios, i)
        gc.collect()
        growth = (tracemalloc.get_traced_memory()[0] - start) / 200
    finally:
        tracemalloc.stop()
    # measured: 11 B per run; before the fixes 225 KiB (agents) and 0.25 KiB (attribute cache)
    assert growth < 120, f"memory grew by {growth:,.0f} B per simulate call"
    assert not [obj for obj in gc.get_objects() if isinstance(obj, TwinningModel)]
