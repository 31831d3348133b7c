"""The donor comparison with every mechanism of issue 12 on, and with each switched off in turn.

Runs ``twinsim compare rwanda_no_program rwanda_tpn rwanda_pairs rwanda_north_south rwanda_external_experts
rwanda_hybrid --replicates 50 --no-posterior`` (at the calibrated point estimate) once with the bundled scenarios
(all mechanisms on) and once per mechanism with ``--set mechanisms.<name>=false``, and writes the table between the
``mechanisms`` markers of docs/delivery_models.md (about 40 s on 2 cores).

Usage, from the repository root::

    PYTHONPATH=src python docs/gen_mechanism_table.py            # print the table
    PYTHONPATH=src python docs/gen_mechanism_table.py --write    # refresh docs/delivery_models.md
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from twinsim.analysis.compare import compare
from twinsim.scenario import MechanismParams, load_scenario

DOC = Path(__file__).with_name("delivery_models.md")
MARKERS = ("<!-- mechanisms:start -->", "<!-- mechanisms:end -->")
SCENARIOS = [
    "rwanda_no_program",
    "rwanda_tpn",
    "rwanda_pairs",
    "rwanda_north_south",
    "rwanda_external_experts",
    "rwanda_hybrid",
]
REPLICATES = 50


def _money(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def rows(switched_off: str | None) -> list[str]:
    """Table rows for one configuration: every programme against no programme."""
    overrides = [] if switched_off is None else [f"mechanisms.{switched_off}=false"]
    result = compare([load_scenario(s, overrides) for s in SCENARIOS], REPLICATES, refs=SCENARIOS)
    table = result.table()
    label = "all on" if switched_off is None else f"`{switched_off}` off"
    out = []
    for name, row in table.iterrows():
        if row["delivery_model"] == "none":
            continue
        out.append(
            f"| {label} | {name.removeprefix('rwanda_')} | {row['effect']:.2f} [{row['effect_low']:.2f},"
            f" {row['effect_high']:.2f}] | {row['sustained_effect']:.2f} | {_money(row['cost'])} |"
            f" {_money(row['icer'])} | {row['dominance']} |"
        )
    return out


def table() -> str:
    """The whole markdown table."""
    lines = [
        "| Mechanisms | Model | Effect at month 19 [95% CI] | Sustained effect at month 31 | Cost (USD 2022) |"
        " ICER vs none (USD per point) | Dominance |",
        "|---|---|---|---|---|---|---|",
    ]
    for mechanism in (None, *MechanismParams.model_fields):
        lines += rows(mechanism)
    return "\n".join(lines)


def main() -> None:
    """Print the table, or write it into docs/delivery_models.md with --write."""
    text = table()
    if "--write" not in sys.argv:
        print(text)
        return
    doc = DOC.read_text()
    start, end = doc.index(MARKERS[0]) + len(MARKERS[0]), doc.index(MARKERS[1])
    DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()
