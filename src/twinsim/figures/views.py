"""What the figures read of a result: the attributes each figure draws from, declared here.

The analyses' results (:class:`twinsim.analysis.compare.Comparison`, :class:`twinsim.analysis.voi.VoiResult`,
:class:`twinsim.analysis.sensitivity.SensitivityResult`) satisfy these protocols; the figures depend on them, never on
the analyses (the figures sit below the analyses, whose ``plot()`` methods draw them; mypy checks that each result
still offers what its figures read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

__all__ = ["ComparedModel", "ComparisonView", "SensitivityView", "VoiView"]


class ComparedModel(Protocol):
    """One delivery model of a comparison: its ``name``, its replicates' outcomes (``runs``) and ``trajectories``."""

    @property
    def name(self) -> str: ...

    @property
    def runs(self) -> pd.DataFrame: ...

    @property
    def trajectories(self) -> np.ndarray: ...


class ComparisonView(Protocol):
    """A comparison of delivery models, as its figures read it.

    Its ``models`` (each a :class:`ComparedModel`), the ``reference`` model, ``replicates``, the willingness-to-pay
    grid ``wtp``, the ``uncertainty`` mode, and its tables: ``model(name)``, ``table()``, ``frontier_wtps()``,
    ``ceac()`` and ``acceptability_frontier()`` (see :class:`twinsim.analysis.compare.Comparison`).
    """

    @property
    def models(self) -> Sequence[Any]: ...  # ComparedModel each

    @property
    def reference(self) -> str: ...

    @property
    def replicates(self) -> int: ...

    @property
    def wtp(self) -> np.ndarray: ...

    @property
    def uncertainty(self) -> str: ...

    def model(self, name: str) -> Any: ...  # a ComparedModel

    def table(self) -> pd.DataFrame: ...

    def frontier_wtps(self) -> list[float]: ...

    def ceac(self) -> pd.DataFrame: ...

    def acceptability_frontier(self) -> pd.DataFrame: ...


class VoiView(Protocol):
    """Value of information: ``evpi``, ``evppi`` per group at each ``wtp``; ``population``; ``top()``."""

    @property
    def wtp(self) -> np.ndarray: ...

    @property
    def evpi(self) -> np.ndarray: ...

    @property
    def evppi(self) -> Mapping[str, np.ndarray]: ...

    @property
    def groups(self) -> Mapping[str, Sequence[str]]: ...

    @property
    def population(self) -> float: ...

    def top(self, k: int = 5, at: int | None = None) -> list[tuple[str, float]]: ...


class SensitivityView(Protocol):
    """A sensitivity analysis.

    Its ``method``, ``samples``, ``runs``, ``factors``, ``outputs``, ``indices`` and ``convergence``.
    """

    @property
    def method(self) -> str: ...

    @property
    def samples(self) -> int: ...

    @property
    def runs(self) -> int: ...

    @property
    def factors(self) -> Sequence[Any]: ...

    @property
    def outputs(self) -> list[str]: ...

    @property
    def indices(self) -> dict[str, pd.DataFrame]: ...

    @property
    def convergence(self) -> pd.DataFrame: ...
