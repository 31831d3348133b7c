"""The model: the population, the monthly step with its one gain path, replicate views, summaries and run results.

It assembles the kernel (:mod:`twinsim.kernel`: declared state, random streams, the learning kernel, recording)
and the plug-ins (:mod:`twinsim.programme`). ``TwinningModel`` (the Mesa model) is imported on first use, so that
runs that need no agents never import Mesa.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from twinsim.kernel.streams import STREAMS, run_seed_sequence
from twinsim.model.twinning import TwinningSimulation

if TYPE_CHECKING:
    from twinsim.model.mesa_model import TwinningModel

__all__ = ["STREAMS", "TwinningModel", "TwinningSimulation", "run_seed_sequence"]


def __getattr__(name: str) -> Any:
    if name == "TwinningModel":  # deferred: importing Mesa costs about a second
        return importlib.import_module("twinsim.model.mesa_model").TwinningModel
    raise AttributeError(f"module 'twinsim.model' has no attribute {name!r}")
