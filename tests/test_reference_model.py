"""The benchmark's reference model (benchmarks/reference_model.py) computes twinsim's learning rule."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import twinsim
from twinsim.model import TwinningModel, run_seed_sequence

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _reference_module():
    spec = importlib.util.spec_from_file_location("reference_model", BENCHMARKS / "reference_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_model_follows_twinsim_month_by_month_without_turnover():
    # the reference implements the core learning rule: the mechanisms of ODD 7.16-7.21 it lacks are off
    core = {f"mechanisms.{m}": False for m in ("ownership", "empowerment", "resources", "delivery_modes")}
    rates = {"learning.rates.coaching_virtual": 0.08, "learning.rates.learning_workshop_virtual": 0.03}
    scenario = twinsim.load_scenario("rwanda_tpn", {"learning.leadership_turnover": 0.0, **core, **rates})
    model = TwinningModel(scenario, run_seed_sequence(3))
    model.step()  # the kickoff forms the ties; the reference starts from here
    reference = _reference_module().ReferenceModel(model)
    model.run()
    reference.run()
    means = reference.datacollector.get_model_vars_dataframe()["mean_capacity"].to_numpy()
    expected = [model.history[m][model.applicable].mean() for m in range(2, model.months_total + 1)]
    np.testing.assert_allclose(means, expected, rtol=0, atol=1e-6)  # twinsim's state is single precision
    final = np.zeros_like(model.capacity)
    for agent in reference.members:
        for topic, c in agent.capacity.items():
            final[agent.row, topic] = c
    np.testing.assert_allclose(final, model.capacity, rtol=0, atol=1e-6)


def test_reference_model_turnover_runs_and_stays_in_bounds():
    model = TwinningModel(twinsim.load_scenario("rwanda_tpn"), run_seed_sequence(3))
    model.step()
    reference = _reference_module().ReferenceModel(model, seed=1)
    reference.run()
    means = reference.datacollector.get_model_vars_dataframe()["mean_capacity"]
    assert len(means) == model.months_total - 1
    assert means.between(0, 1).all()
    assert means.iloc[-1] == pytest.approx(model.history[1][model.applicable].mean(), abs=0.2)
