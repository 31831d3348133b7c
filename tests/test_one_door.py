"""One door for names: every public function that takes a scenario accepts a bundled name, a path or a Scenario
(through :func:`twinsim.scenario.as_scenario`), and gives the same answer for each; posteriors and targets are
accepted by bundled name too."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import twinsim
from twinsim.analysis.calibration import calibrate
from twinsim.analysis.compare import compare
from twinsim.analysis.decomposition import decompose
from twinsim.analysis.power import power_analysis
from twinsim.analysis.sensitivity import sensitivity
from twinsim.analysis.targets import load_targets
from twinsim.errors import ScenarioError
from twinsim.experiments.posterior import Posterior, as_posterior, load_posterior
from twinsim.experiments.store import load_results
from twinsim.experiments.sweep import sweep
from twinsim.figures.plots import plot_trajectories
from twinsim.model.twinning import TwinningSimulation
from twinsim.scenario import as_scenario, bundled_scenarios, resolve_posterior, resolve_targets, scenario_warnings

NAME = "rwanda_tpn"
FILE = bundled_scenarios()[NAME]
REFS = {
    "bundled name": lambda: NAME,
    "path as str": lambda: str(FILE),
    "pathlib.Path": lambda: FILE,
    "Scenario": lambda: twinsim.load_scenario(NAME),
}


def _fit_and_check(ref, tmp_path):
    from twinsim.analysis.calibration import fit_and_check

    _calibrate(NAME, tmp_path)  # writes the small targets file
    return fit_and_check(ref, str(tmp_path / "targets.toml"), budget=8)[0].design


def _calibrate(ref, tmp_path):
    text = resolve_targets(NAME).read_text(encoding="utf-8")
    text = text.replace('method = "smc"', 'method = "rejection"', 1)
    text = text.replace("replicates_per_point = 4", "replicates_per_point = 1", 1)
    text = text.replace("refine_replicates = 16", "refine_replicates = 1", 1)
    targets = tmp_path / "targets.toml"
    targets.write_text(text, encoding="utf-8")
    return calibrate(ref, str(targets), budget=8).design


def _sweep(ref, tmp_path):
    out = tmp_path / "sweep"
    sweep(ref, ["learning.gap_ceiling=0.4,0.8"], out=out, replicates=1)
    return load_results(out).sort_values(["point", "replicate"]).reset_index(drop=True)


def _plot(ref, tmp_path):
    panel = twinsim.simulate(NAME, agents=False).aggregates
    import matplotlib.pyplot as plt

    figure = plot_trajectories(panel, scenario=ref)
    axis = figure.axes[0]
    drawn = (axis.get_xlim(), axis.get_ylabel(), axis.get_title(), len(figure.axes))  # dates, unit, topic
    plt.close(figure)
    return drawn


#: Every public function (docs/api.md) that takes a scenario, called with ``ref``; the value is what must not depend
#: on how the scenario was named.
CALLS = {
    "load_scenario": lambda ref, tmp: twinsim.load_scenario(ref).model_dump(),
    "simulate": lambda ref, tmp: twinsim.simulate(ref, agents=False).summary(),
    "run_replicates": lambda ref, tmp: twinsim.run_replicates(ref, 2).to_frame(),
    "run_replicates(keep_tables)": lambda ref, tmp: twinsim.run_replicates(ref, 2, keep_tables=True).ledgers,
    "TwinningModel": lambda ref, tmp: twinsim.TwinningModel(ref, seed=3).params,
    "TwinningSimulation": lambda ref, tmp: TwinningSimulation(ref, seed=3).params,
    "scenario_warnings": lambda ref, tmp: scenario_warnings(ref),
    "decompose": lambda ref, tmp: decompose(ref, 2).to_frame(),
    "power_analysis": lambda ref, tmp: power_analysis(ref, [10], 2, topics=["accreditation"]).to_frame(),
    "sensitivity": lambda ref, tmp: sensitivity(
        ref, {"learning.forgetting": (0.0, 0.05)}, ["mean_gain"], method="morris", samples=2
    ).to_frame(),
    # compare labels each model by the reference it was given (a path stays a path): the numbers must agree
    "compare": lambda ref, tmp: compare(["rwanda_no_program", ref], 2).to_frame().drop(columns="scenario"),
    "calibrate": _calibrate,
    "fit_and_check": _fit_and_check,
    "sweep": _sweep,
    "load_posterior": lambda ref, tmp: load_posterior(NAME, ref).values,
    "plot_trajectories": _plot,
}


def _same(a, b):
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("call", CALLS)
def test_every_public_function_takes_a_name_a_path_or_a_scenario(call, tmp_path):
    results = {}
    for kind, ref in REFS.items():
        folder = tmp_path / kind.replace(" ", "_")
        folder.mkdir()
        results[kind] = CALLS[call](ref(), folder)
    expected = results.pop("Scenario")
    for kind, value in results.items():
        try:
            _same(value, expected)
        except AssertionError as exc:
            raise AssertionError(f"{call} given a {kind}: {exc}") from None


def test_an_unknown_name_names_the_bundled_ones():
    with pytest.raises(ScenarioError, match=r"rwanda_tnp: no such scenario file or bundled scenario; did you mean"):
        twinsim.run_replicates("rwanda_tnp", 2)


@pytest.mark.parametrize("wrong", [42, None, ["rwanda_tpn"]])
def test_anything_else_is_one_line_naming_what_is_allowed(wrong):
    with pytest.raises(ScenarioError) as info:
        as_scenario(wrong)
    message = str(info.value)
    assert "\n" not in message
    assert f"got a {type(wrong).__name__}" in message and "rwanda_tpn" in message and "Scenario" in message


def test_posteriors_and_targets_are_taken_by_bundled_name():
    by_name, by_path = load_posterior(NAME), load_posterior(resolve_posterior(NAME))
    np.testing.assert_array_equal(by_name.values, by_path.values)
    assert by_name.source == by_path.source
    assert isinstance(as_posterior(NAME), Posterior) and as_posterior(by_name) is by_name and as_posterior(None) is None
    assert load_targets(NAME) == load_targets(resolve_targets(NAME))
    with pytest.raises(ScenarioError, match=r"--posterior rwanda_tnp: no such file or bundled name; did you mean"):
        load_posterior("rwanda_tnp")


def test_a_posterior_named_gives_the_runs_of_the_posterior_loaded():
    by_name = twinsim.run_replicates(NAME, 4, posterior=NAME).to_frame()
    loaded = twinsim.run_replicates(NAME, 4, posterior=load_posterior(NAME, NAME)).to_frame()
    pd.testing.assert_frame_equal(by_name, loaded)
    pd.testing.assert_frame_equal(by_name, twinsim.run_replicates(NAME, 4).to_frame())  # default: the scenario's
    assert not by_name.equals(twinsim.run_replicates(NAME, 4, posterior=None).to_frame())  # opted out: point values


def test_the_public_api_lists_no_function_this_test_forgets():
    """Every documented function (docs/api.md) with a ``scenario`` argument is in CALLS (results classes aside)."""
    import inspect

    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    documented = [line.split()[1] for line in text.splitlines() if line.startswith("::: ")]
    takes_scenario = {"load_scenario", "TwinningModel", "TwinningSimulation"} & {
        d.rpartition(".")[2] for d in documented
    }
    for dotted in documented:
        module, _, name = dotted.rpartition(".")
        obj = getattr(__import__(module, fromlist=[name]), name)
        if inspect.isfunction(obj) and {"scenario", "scenarios"} & set(inspect.signature(obj).parameters):
            takes_scenario.add(name)
    assert len(takes_scenario) >= 10, sorted(takes_scenario)
    assert takes_scenario <= set(CALLS), sorted(takes_scenario - set(CALLS))
