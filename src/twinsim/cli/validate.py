"""``twinsim validate`` and ``twinsim scenarios``."""

from __future__ import annotations

from twinsim.cli.common import ScenarioArg, SetOption, out_console, print_warnings, user_errors
from twinsim.scenario import bundled_scenarios, load_scenario, resolve_scenario_path


@user_errors
def validate(
    scenario: ScenarioArg,
    set_: SetOption = None,
) -> None:
    """Check a scenario file (and overrides); exit 0 when valid, 2 with the error otherwise.

    A valid scenario whose results cannot mean anything (no comparison group, no learning rates, no kickoff, no
    possible ties, activities that cost and transfer nothing) gets a warning line on stderr.
    """
    sc = load_scenario(scenario, set_ or [])
    out_console.print(
        f"{resolve_scenario_path(scenario)}: valid ({sc.n_institutions} institutions, {len(sc.topics)} topics, "
        f"{sc.simulation.months} + {sc.simulation.followup_months} months, "
        f"delivery model {sc.programme.delivery_model})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    print_warnings(sc)


@user_errors
def scenarios() -> None:
    """List the bundled scenarios, one line each."""
    for name, path in sorted(bundled_scenarios().items()):
        sc = load_scenario(path)
        out_console.print(f"{name:<32} {sc.description}", markup=False, highlight=False, soft_wrap=True)
