"""The model: declared state, the monthly step, the learning kernel, recording and run results."""

from twinsim.model.twinning import STREAMS, TwinningModel, run_seed_sequence

__all__ = ["STREAMS", "TwinningModel", "run_seed_sequence"]
