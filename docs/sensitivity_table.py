"""Print the bundled Rwanda sensitivity analysis as Markdown: total-effect Sobol indices of the top factors.

    python docs/sensitivity_table.py

Reads ``docs/data/sensitivity_rwanda/`` (written by
``twinsim sensitivity rwanda_design_sensitivity --workers 2 --out docs/data/sensitivity_rwanda``): ST with its 95%
half-width for the outputs of the README's table, factors ranked by their largest ST, and the replicate-noise share.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent / "data" / "sensitivity_rwanda"
OUTPUTS = ("mean_gain", "total_cost", "selected_vs_not.cbhi_coverage")
TOP = 10


def main() -> None:
    """Print the ranked ST table and the replicate-noise shares."""
    indices = pd.read_csv(DATA / "indices.csv")
    st = indices.pivot_table(index="factor", columns="output", values="ST").reindex(columns=list(OUTPUTS))
    conf = indices.pivot_table(index="factor", columns="output", values="ST_conf").reindex(columns=list(OUTPUTS))
    order = st.max(axis=1).sort_values(ascending=False).index[:TOP]
    print("| factor | " + " | ".join(OUTPUTS) + " |")
    print("|---|" + "---:|" * len(OUTPUTS))
    for factor in order:
        cells = []
        for output in OUTPUTS:
            value, half = st.loc[factor, output], conf.loc[factor, output]
            text = f"{max(value, 0):.3f} ({half:.3f})"
            cells.append(f"**{text}**" if value == st[output].max() else text)
        print(f"| {factor} | " + " | ".join(cells) + " |")
    noise = pd.read_csv(DATA / "noise.csv", index_col=0)
    share = noise["noise_share"]
    shown = ", ".join(f"{name} {value:.0%}" for name, value in share.items() if name in OUTPUTS)
    print(f"\nReplicate noise, share of each output's variance: {shown}.")


if __name__ == "__main__":
    main()
