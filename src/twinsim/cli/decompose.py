"""``twinsim decompose``: twinning vs self-selection."""

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
from twinsim.experiments.resources import check_size
from twinsim.scenario import load_scenario


@user_errors
def decompose(
    scenario: ScenarioArg,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Replicate pairs.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
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
    """Split each topic's selected-vs-not difference into twinning and self-selection (counterfactual runs)."""
    check_seed(seed)
    from twinsim.analysis.decomposition import decompose as run_decomposition

    engine = engine_options(workers, scheduler, store, resume)
    sc = load_scenario(scenario, set_ or [])
    check_size(sc, 2 * replicates, force=force)
    print_warnings(sc)
    post = _load_posterior(posterior, sc, no_posterior)
    with progress_bar(2 * replicates, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(sc.name, total=2 * replicates)
        advance = lambda k: bar.advance(task, k)  # noqa: E731
        result = run_decomposition(sc, replicates, seed, posterior=post, progress=advance, **engine)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    table = new_table(
        f"{sc.name}: measured selected vs not = twinning + self-selection + regression to the mean "
        f"({replicates} replicate pairs)",
        (
            "topic",
            "measured [95% CI of mean]",
            "twinning",
            "self-selection",
            "regression to the mean",
            "param. share meas. / twin.",
            "twinning share [5-95% over parameter sets]",
        ),
        left=("topic",),
        drop=("param. share meas. / twin.", "twinning share [5-95% over parameter sets]"),
    )
    for topic, row in result.summary().iterrows():
        cells = [
            f"{row[p]:+.2f} [{row[p + '_ci95_low']:+.2f}, {row[p + '_ci95_high']:+.2f}]"
            for p in ("measured", "twinning", "self_selection", "regression_to_the_mean")
        ]
        share = f"{row.twinning_share:.0%}"
        if row.twinning_share_low == row.twinning_share_low:  # a range over posterior parameter sets
            share += f" [{row.twinning_share_low:.0%}, {row.twinning_share_high:.0%}]"
        split = f"{share_cell(row.measured_param_share)} / {share_cell(row.twinning_param_share)}"
        add_row(table, topic, *cells, split, share)
    show_table(table, table_format)
    if table_format == "csv":
        return
    say(
        "measured: the paper's comparison on the evaluator's measured indicators (evaluation.measurement_sd); the "
        "institutions chose their topics on the same measured baseline, so selectors whose baseline was measured "
        "too low seem to improve: regression to the mean. twinning + self-selection is the true difference.",
        wrap=table_format == "text",
    )
    if post is None:
        say(
            "Intervals: 95% CI of the mean over replicates; parameters: the scenario's own (replicate noise only).",
            wrap=table_format == "text",
        )
        return
    say(
        "Intervals: 95% CI of the mean over replicates. param. share: how much of the replicate-to-replicate spread "
        "of the measured difference and of its twinning part is parameter uncertainty (posterior draws), the rest "
        "replicate noise ('-': too few replicates share a draw to tell). The twinning share's range is over the "
        "posterior's parameter sets.",
        wrap=table_format == "text",
    )
