"""Print how much the prior decides the shipped Rwanda calibration, as Markdown.

    python docs/prior_sensitivity_table.py

Reads the ``prior_sensitivity`` report of ``src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json`` (written
by ``twinsim calibrate``, ``--prior-check``): per target and donor-facing gain, the prior predictive, the posterior
predictive under the uniform prior and under a log-uniform prior over the same ranges, the posterior predictive
p-value of the published value, and whether the answer depends on the prior; then each parameter's posterior under
both priors.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json"


def _num(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def main() -> None:
    """Print the prior-sensitivity tables."""
    report = json.loads(REPORT.read_text(encoding="utf-8"))["prior_sensitivity"]
    first, second = report["priors"]
    print(
        f"| output | published | prior predictive ({first}) | posterior predictive ({first}) | predictive p-value"
        f" | posterior predictive ({second}) | depends on the prior |"
    )
    print("|---|---:|---:|---:|---:|---:|---|")
    for key, row in report["outputs"].items():
        print(
            f"| {key} | {_num(row.get('published'), 1)} | {_num(row.get('prior_predictive_mean'))}"
            f" | {_num(row['posterior_predictive_mean'])} | {_num(row.get('ppp'))}"
            f" | {_num(row['second_posterior_predictive_mean'])} | {'yes' if row['prior_dependent'] else 'no'} |"
        )
    print(f"\n| parameter | posterior mean ({first}) [sd] | posterior mean ({second}) [sd] |")
    print("|---|---:|---:|")
    for name, row in report["parameters"].items():
        print(
            f"| {name} | {row['posterior_mean']:.4g} [{row['posterior_sd']:.2g}]"
            f" | {row['second_mean']:.4g} [{row['second_sd']:.2g}] |"
        )


if __name__ == "__main__":
    main()
