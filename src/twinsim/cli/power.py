"""``twinsim power``: power of an emulated trial."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from twinsim.cli.common import (
    ForceOption,
    JsonOption,
    NoPosteriorOption,
    PosteriorOption,
    QuietOption,
    ResumeOption,
    ScenarioArg,
    SchedulerOption,
    SetOption,
    StoreOption,
    TableFormatOption,
    WorkersOption,
    _load_posterior,
    add_row,
    check_seed,
    engine_options,
    new_table,
    print_warnings,
    progress_bar,
    say,
    share_cell,
    show_table,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.resources import check_size
from twinsim.scenario import load_scenario
from twinsim.scenario.schema import MAX_INSTITUTIONS


@user_errors
def power(
    scenario: ScenarioArg,
    institutions: Annotated[
        str, typer.Option("--institutions", help="Trial sizes (total institutions), comma-separated.")
    ] = "10,20,40,80",
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=2, help="Simulated trials per size.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", help="Topic to evaluate (repeatable; default all).")
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="Significance level (two-sided).")] = 0.05,
    set_: SetOption = None,
    posterior: PosteriorOption = None,
    no_posterior: NoPosteriorOption = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    store: StoreOption = None,
    resume: ResumeOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    table_format: TableFormatOption = "text",
    force: ForceOption = False,
) -> None:
    """Power and minimum detectable effect of the selected-vs-not evaluation, per trial size and topic."""
    check_seed(seed)
    from twinsim.analysis.power import power_analysis

    try:
        sizes = [int(x) for x in institutions.split(",") if x.strip()]
    except ValueError:
        raise TwinsimError(
            f"--institutions: expected comma-separated whole numbers, e.g. 10,20,40 (got {institutions!r})"
        ) from None
    if not sizes or min(sizes) < 2:
        raise TwinsimError(f"--institutions: every size must be >= 2 (got {institutions!r})")

    if max(sizes) > MAX_INSTITUTIONS:
        raise TwinsimError(f"--institutions: every size must be at most {MAX_INSTITUTIONS:,} (got {max(sizes):,})")

    engine = engine_options(workers, scheduler, store, resume)
    sc = load_scenario(scenario, set_ or [])
    check_size(sc, len(sizes) * replicates, force=force, institutions=max(sizes), what="--institutions x --replicates")
    print_warnings(sc)
    post = _load_posterior(posterior, sc, no_posterior)
    total = len(sizes) * replicates
    with progress_bar(total, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(sc.name, total=total)
        result = power_analysis(
            sc,
            sizes,
            replicates,
            seed,
            topics=topic or None,
            alpha=alpha,
            posterior=post,
            progress=lambda k: bar.advance(task, k),
            **engine,
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    table = new_table(
        f"{sc.name}: power of the selected-vs-not evaluation (DiD, alpha {alpha}, measurement sd "
        f"{sc.evaluation.measurement_sd}, {replicates} trials per size)",
        (
            "institutions",
            "topic",
            "n sel",
            "n not",
            "mean effect",
            "power [95% CI]",
            "MDE (80%)",
            "param. share estimate / detection",
        ),
        left=("topic",),
    )
    for row in result.table().itertuples():
        add_row(
            table,
            row.institutions,
            row.topic,
            f"{row.n_selected:.1f}",
            f"{row.n_not_selected:.1f}",
            f"{row.mean_effect:+.2f}",
            f"{row.power:.0%} [{row.power_ci95_low:.0%}, {row.power_ci95_high:.0%}]",
            f"{row.mde:.2f}",
            f"{share_cell(row.estimate_param_share)} / {share_cell(row.power_param_share)}",
        )
    show_table(table, table_format)
    if table_format == "csv":
        return
    if post is None:
        say(
            "power [95% CI]: share of simulated trials that detect the effect, Wilson interval over trials. "
            "Parameters: the scenario's own in every trial (--no-posterior): power is conditional on them.",
            wrap=table_format == "text",
        )
        return
    say(
        "power [95% CI]: share of simulated trials that detect the effect, Wilson interval over trials. Power is "
        "averaged over the posterior: each trial drew its own parameter set. param. share: how much of the "
        "trial-to-trial spread of the estimate and of detection is parameter uncertainty, the rest sampling and "
        "replicate noise ('-': too few trials share a draw to tell); the MDE uses the estimate's whole spread, so "
        "parameter uncertainty widens it.",
        wrap=table_format == "text",
    )
