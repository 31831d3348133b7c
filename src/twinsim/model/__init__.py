"""The model: declared state, the monthly step, the learning kernel, recording and run results.

``TwinningModel`` (the Mesa model), ``TwinningSimulation`` (the same simulation without Mesa), ``run_seed_sequence``
and ``STREAMS`` are imported on first use, so that the plug-ins (:mod:`twinsim.programme`) can import the learning
kernel (:mod:`twinsim.model.learning`) without importing the model that imports them, and so that runs that need no
agents never import Mesa.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twinsim.model.mesa_model import TwinningModel
    from twinsim.model.streams import STREAMS, run_seed_sequence
    from twinsim.model.twinning import TwinningSimulation

__all__ = ["STREAMS", "TwinningModel", "TwinningSimulation", "run_seed_sequence"]

_LAZY = {
    "TwinningModel": "twinsim.model.mesa_model",
    "TwinningSimulation": "twinsim.model.twinning",
    "STREAMS": "twinsim.model.streams",
    "run_seed_sequence": "twinsim.model.streams",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'twinsim.model' has no attribute {name!r}")
