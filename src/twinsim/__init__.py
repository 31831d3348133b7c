"""twinsim: simulate peer-learning (twinning) networks among health institutions.

The Python API in a few names::

    import twinsim
    scenario = twinsim.load_scenario("rwanda_tpn")          # or a path to a TOML file
    result = twinsim.simulate(scenario, seed=1)             # one run: RunResult with tidy tables
    batch = twinsim.run_replicates(scenario, replicates=50) # many runs: summaries with 95% intervals
    model = twinsim.TwinningModel("rwanda_tpn", seed=1)     # the Mesa model, stepped month by month

Names are imported on first use, so that ``import twinsim`` (and the ``twinsim`` command) start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twinsim.errors import ScenarioError, TwinsimError

if TYPE_CHECKING:
    from twinsim.experiments.engine import ReplicateSet, run_replicates
    from twinsim.model import TwinningModel
    from twinsim.model.results import RunResult, simulate
    from twinsim.scenario import Scenario, bundled_scenarios, load_scenario

_LAZY = {
    "ReplicateSet": "twinsim.experiments.engine",
    "run_replicates": "twinsim.experiments.engine",
    "TwinningModel": "twinsim.model",
    "RunResult": "twinsim.model.results",
    "simulate": "twinsim.model.results",
    "Scenario": "twinsim.scenario",
    "bundled_scenarios": "twinsim.scenario",
    "load_scenario": "twinsim.scenario",
}

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
    from twinsim.core.version import package_version

    return package_version()


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read from the installed metadata on first use (importlib.metadata is slow to load)
        globals()[name] = value = _version()
        return value
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'twinsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"__version__"})
