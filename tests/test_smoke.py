import twinsim


def test_every_bundled_scenario_runs():
    for name in twinsim.bundled_scenarios():
        scenario = twinsim.load_scenario(name)
        result = twinsim.simulate(scenario, seed=1)
        assert len(result.panel) > 0
