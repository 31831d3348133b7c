"""Reading back the panels an experiment's runs streamed to ``recording.panel_dir``: one tidy table.

With ``recording.panel_dir`` set, every run of ``sweep``, ``compare`` (or any experiment) streams its panel to a file
of its own, named by design point (or arm label) and replicate (:func:`twinsim.experiments.engine.panel_name`):

    panel_point<P>_rep<R>.parquet      a design point (sweep, sensitivity, power ...)
    panel_<LABEL>_rep<R>.parquet       a labelled arm (compare: ``models-0``, ``counterfactual-1`` ...)
    panel_seed<S>_rep<R>.parquet       a single ``twinsim run`` (no design)

:func:`read_panels` reads every such file of a folder into one table with the run's ``point`` (or ``arm``) and
``replicate`` in front of the panel's columns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from twinsim.errors import TwinsimError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_panels"]

_NAME = re.compile(r"^panel_(?:point(?P<point>\d+)|seed(?P<seed>\d+)|(?P<arm>.+?))_rep(?P<replicate>\d+)\.parquet$")


def read_panels(directory: str | Path) -> pd.DataFrame:
    """Every streamed panel in ``directory`` as one tidy frame, sorted by run.

    Columns: ``point`` (design-point panels) or ``arm`` (labelled arms), then the panel's own columns
    (``replicate``, ``seed``, ``month``, ``institution`` ... as :attr:`twinsim.model.results.RunResult.panel`).

    Raises:
        TwinsimError: the folder holds no panel files, or one of them cannot be read (named).

    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(directory)
    found = []
    for path in folder.glob("panel_*.parquet"):
        match = _NAME.match(path.name)
        if match is not None:
            found.append((match, path))
    if not found:
        raise TwinsimError(f"{folder}: no panel files (panel_*.parquet); set recording.panel_dir and run again")

    def order(item: tuple[re.Match, Path]) -> tuple:
        m = item[0]
        return (m["arm"] or "", int(m["point"] or -1), int(m["seed"] or -1), int(m["replicate"]))

    frames = []
    for match, path in sorted(found, key=order):
        try:
            frame = pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise TwinsimError(f"{path}: an unreadable panel file ({exc}); delete it and run again") from None
        if match["point"] is not None:
            frame.insert(0, "point", int(match["point"]))
        elif match["arm"] is not None:
            frame.insert(0, "arm", match["arm"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
