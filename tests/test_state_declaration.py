"""The declared state and the class-level annotations a type checker reads stay in step."""

import typing

import numpy as np

from twinsim.kernel.state import STATE, TIE_STATE, DeclaredState
from twinsim.model.replicate import Replicate
from twinsim.model.twinning import TwinningSimulation


def _dtype_of(hint: object) -> type:
    # npt.NDArray[X] is np.ndarray[tuple[Any, ...], np.dtype[X]]
    dtype_hint = typing.get_args(hint)[1]
    return typing.get_args(dtype_hint)[0]


def test_every_declared_array_is_annotated_in_order_with_its_dtype():
    hints = typing.get_type_hints(DeclaredState)
    declared = [*STATE, *TIE_STATE]
    assert list(hints) == [var.name for var in declared]
    for var in declared:
        assert typing.get_origin(hints[var.name]) is np.ndarray, var.name
        assert np.dtype(_dtype_of(hints[var.name])) == np.dtype(var.dtype), var.name


def test_the_model_has_the_annotated_arrays_with_the_declared_dtypes():
    assert issubclass(TwinningSimulation, DeclaredState)
    model = TwinningSimulation("rwanda_tpn", seed=1, replicates=2)
    model.step()  # the kickoff forms the ties (tie state)
    n, topics = model.n, len(model.topic_names)
    shapes = {"row": (n,), "row_topic": (n, topics), "tie": (len(model.ties),)}
    for var in (*STATE, *TIE_STATE):
        value = getattr(model, var.name)
        assert isinstance(value, np.ndarray), var.name
        assert value.dtype == np.dtype(var.dtype), var.name
        assert value.shape == shapes[var.axes], var.name
    replicate = model.replicate(1)
    assert isinstance(replicate, Replicate)
    assert replicate.capacity.shape == (model.n_institutions, topics)


def test_running_and_reading_a_model_attaches_nothing_to_it():
    """Caches are declared (twinsim.kernel.caches): a run, its summaries, survey errors and grid add no attribute."""
    from twinsim.kernel.caches import CACHED
    from twinsim.model import TwinningModel
    from twinsim.model.summary import replicate_trajectories, summary_rows

    model = TwinningModel("rwanda_tpn", seed=3)
    before = set(vars(model))
    while model.running:
        model.step()
    summary_rows(model)
    replicate_trajectories(model)
    model.grid  # noqa: B018 - the Mesa grid is cached too
    from twinsim.model.results import RunResult  # noqa: F401 - the survey errors of a result

    assert set(vars(model)) == before
    assert {"per_tie_set", "summary_rows", "survey_errors", "grid"} <= set(CACHED)
