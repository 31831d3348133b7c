"""``twinsim validate`` and ``twinsim scenarios``."""

from __future__ import annotations

from typing import Annotated

import typer

from twinsim.cli.common import (
    QuietOption,
    ScenarioArg,
    SetOption,
    TableFormatOption,
    add_row,
    new_table,
    out_console,
    print_warnings,
    show_table,
    user_errors,
)
from twinsim.experiments.psa import prior_table
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


@user_errors
def priors(
    scenario: Annotated[
        str | None,
        typer.Argument(
            help="A scenario file or bundled name: show its own values (the triangular priors' modes).",
            metavar="[SCENARIO]",
        ),
    ] = None,
    table_format: TableFormatOption = "text",
    quiet: QuietOption = False,
) -> None:
    """List every uncertain input with its prior (family, range), group and source.

    These are the inputs `twinsim compare` draws in its probabilistic sensitivity analysis (the default,
    --uncertainty full); calibrated parameters come from the scenario's posterior instead.
    """
    sc = load_scenario(scenario) if scenario is not None else None
    title = "Uncertain inputs and their priors" + (f" ({sc.name}: modes at its values)" if sc is not None else "")
    view = new_table(
        title, ("key", "group", "unit", "prior", "source"), left=("key", "group", "unit", "prior", "source")
    )
    for row in prior_table(sc):
        add_row(view, row["key"], row["group"], row["unit"], row["prior"], row["source"])
    show_table(view, table_format)
