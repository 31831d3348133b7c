"""twinsim: simulate peer-learning (twinning) networks among health institutions.

The Python API in a few names::

    import twinsim
    scenario = twinsim.load_scenario("rwanda_tpn")          # or a path to a TOML file
    result = twinsim.simulate(scenario, seed=1)             # one run: RunResult with tidy tables
    batch = twinsim.run_replicates(scenario, replicates=50) # many runs: summaries with 95% intervals
"""

from twinsim.errors import ScenarioError, TwinsimError
from twinsim.experiments.engine import ReplicateSet, run_replicates
from twinsim.model import TwinningModel
from twinsim.model.results import RunResult, simulate
from twinsim.scenario import Scenario, bundled_scenarios, load_scenario

__all__ = [
    "ReplicateSet",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "TwinningModel",
    "TwinsimError",
    "bundled_scenarios",
    "load_scenario",
    "run_replicates",
    "simulate",
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("twinsim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"


__version__ = _version()
