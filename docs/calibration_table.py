"""Print the shipped Rwanda calibration as Markdown: what the two published effects tell about each parameter.

    python docs/calibration_table.py

Reads ``src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json`` (written by ``twinsim calibrate``): prior
against posterior for every fitted parameter, whether the targets inform it, the effective sample size (ABC-SMC:
per generation too), and the posterior predictive check against the targets and the published statements that are
not targets.
"""

from __future__ import annotations

import json
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "src/twinsim/scenarios/posteriors/rwanda_tpn/calibration.json"


def main() -> None:
    """Print the identifiability table and the posterior predictive check."""
    report = json.loads(REPORT.read_text(encoding="utf-8"))
    if "generations" in report:  # ABC-SMC
        _print_smc(report)
        return
    print(
        f"{report['accepted']} of {report['design_points']} design points accepted ({report['runs']} runs); "
        f"effective sample size of the weighted posterior: {report['effective_sample_size']:.0f}\n"
    )
    _print_parameters(report)
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


def _print_parameters(report: dict) -> None:
    """Prior against posterior for every parameter (the identifiability table)."""
    print("| parameter | prior (uniform) | posterior mean | posterior 90% interval | sd posterior / prior | informed |")
    print("|---|---|---:|---|---:|---|")
    for key, row in report["posterior"].items():
        print(
            f"| `{key}` | [{row['prior_low']:.4g}, {row['prior_high']:.4g}] | {row['mean']:.4g} | "
            f"[{row['q05']:.4g}, {row['q95']:.4g}] | {row['sd_ratio']:.2f} | {'yes' if row['informed'] else 'no'} |"
        )


def _print_smc(report: dict) -> None:
    """The ABC-SMC report: generations, prior against posterior, predictive check and the published statements."""
    reached = "reached" if report["reached_final_tolerance"] else "NOT reached (budget or ESS floor)"
    print(
        f"ABC-SMC: {len(report['generations'])} generations of {report['particles']} particles ({report['runs']} "
        f"runs, one replicate each); final tolerance {report['final_tolerance']:.3g} target SE ({reached}); "
        f"effective sample size of the weighted posterior: {report['effective_sample_size']:.0f}\n"
    )
    print("| generation | tolerance (target SE) | effective sample size | share within tolerance |")
    print("|---:|---:|---:|---:|")
    for g in report["generations"]:
        print(f"| {g['generation']:.0f} | {g['tolerance']:.3g} | {g['ess']:.0f} | {g['within_tolerance']:.1%} |")
    print(
        "\n| parameter | prior (uniform) | posterior mean | posterior 90% interval | sd posterior / prior | informed |"
    )
    print("|---|---|---:|---|---:|---|")
    for key, row in report["posterior"].items():
        print(
            f"| `{key}` | [{row['prior_low']:.4g}, {row['prior_high']:.4g}] | {row['mean']:.4g} | "
            f"[{row['q05']:.4g}, {row['q95']:.4g}] | {row['sd_ratio']:.2f} | {'yes' if row['informed'] else 'no'} |"
        )
    print(
        "\n| target | published (standard error) | posterior predictive mean [95% CI] | 95% predictive interval "
        "(one simulated TPN) | at the point estimate |"
    )
    print("|---|---|---|---|---|")
    targets = {t["key"]: t for t in report["settings"]["targets"]}
    for key, pred in report["posterior_predictive"].items():
        check = report["point_estimate_check"][key]
        print(
            f"| {key} | {targets[key]['value']} ({targets[key]['sd']}) | {pred['mean']:.2f} "
            f"[{pred['ci95_low']:.2f}, {pred['ci95_high']:.2f}] | [{pred['predictive_low']:.2f}, "
            f"{pred['predictive_high']:.2f}] | {check['mean']:.2f} [{check['ci95'][0]:.2f}, {check['ci95'][1]:.2f}] |"
        )
    checks = report.get("predictive_checks", {})
    if "always_a_leading_peer" in checks:
        c = checks["always_a_leading_peer"]
        held = "holds in every predictive draw" if c["holds"] else "holds as far as the mentor load cap allows"
        led = c.get("mean_unmatched_led_share", c["max_unmatched_led_share"])
        print(
            f"\nAlways a high-performing peer: {held} (chosen topics without a twin: {c['mean_unmatched_share']:.1%}; "
            f"of them, with every leading peer at the cap: {led:.1%} on average, at most "
            f"{c['max_unmatched_led_share']:.1%} in a draw; the rest have no peer of their kind to lead them)."
        )
    if "gains_persist" in checks:
        c = checks["gains_persist"]
        print(
            f"Gains persist: {'yes' if c['holds'] else 'NO'} (mean gain {c['mean_gain_endline']:.2f} points at the "
            f"endline, {c['mean_gain_end_of_followup']:.2f} at the end of the follow-up)."
        )


if __name__ == "__main__":
    main()
