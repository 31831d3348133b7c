"""Print the shipped Rwanda calibration as Markdown: what the two published effects tell about each parameter.

    python docs/calibration_table.py

Reads ``src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json`` (written by ``twinsim calibrate``): prior
against posterior for every fitted parameter, whether the targets inform it, the effective sample size, and the
posterior predictive check against the targets.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json"


def main() -> None:
    """Print the identifiability table and the posterior predictive check."""
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    print(
        f"{report['accepted']} of {report['design_points']} design points accepted ({report['runs']} runs); "
        f"effective sample size of the weighted posterior: {report['effective_sample_size']:.0f}\n"
    )
    print("| parameter | prior (uniform) | posterior mean | posterior 90% interval | sd posterior / prior | informed |")
    print("|---|---|---:|---|---:|---|")
    for key, row in report["posterior"].items():
        print(
            f"| `{key}` | [{row['prior_low']:.4g}, {row['prior_high']:.4g}] | {row['mean']:.4g} | "
            f"[{row['q05']:.4g}, {row['q95']:.4g}] | {row['sd_ratio']:.2f} | {'yes' if row['informed'] else 'no'} |"
        )
    print("\n| target | published (standard error) | posterior predictive mean [95% CI] | at the point estimate |")
    print("|---|---|---|---|")
    targets = {t["key"]: t for t in report["settings"]["targets"]}
    for key, pred in report["posterior_predictive"].items():
        check = report["point_estimate_check"][key]
        print(
            f"| {key} | {targets[key]['value']} ({targets[key]['sd']}) | {pred['mean']:.2f} "
            f"[{pred['ci95_low']:.2f}, {pred['ci95_high']:.2f}] | {check['mean']:.2f} "
            f"[{check['ci95'][0]:.2f}, {check['ci95'][1]:.2f}] |"
        )


if __name__ == "__main__":
    main()
