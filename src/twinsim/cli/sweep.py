"""``twinsim sweep``: a parameter sweep through the experiment engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from twinsim.cli.common import (
    ForceOption,
    JsonOption,
    QuietOption,
    ResumeOption,
    ScenarioArg,
    SchedulerOption,
    SetOption,
    WorkersOption,
    check_output_path,
    check_seed,
    engine_options,
    err_console,
    out_console,
    progress_bar,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.resources import MAX_RUNS, check_size
from twinsim.scenario import load_scenario


@user_errors
def sweep(
    scenario: ScenarioArg,
    param: Annotated[
        list[str],
        typer.Option(
            "--param",
            help="A swept parameter: KEY=1,2,3 or KEY=LO:HI:N (lhs/sobol: KEY=LO:HI, or KEY for its plausible range).",
            metavar="KEY=VALUES",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "--store", help="Result-store directory (Parquet parts plus manifest.json).")
    ],
    design: Annotated[str, typer.Option(help="grid, lhs or sobol.")] = "grid",
    samples: Annotated[int | None, typer.Option(help="Points of an lhs or sobol design.")] = None,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Replicates per point.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    resume: ResumeOption = False,
    streams: Annotated[str, typer.Option(help="common (same draws at every point) or independent.")] = "common",
    chunk_size: Annotated[int | None, typer.Option(min=1, help="Runs per task (default: automatic).")] = None,
    set_: SetOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    force: ForceOption = False,
) -> None:
    """Run a design over scenario parameters, replicated, into a resumable result store."""
    check_seed(seed)
    from functools import partial

    from twinsim.experiments.sweep import sweep as run_sweep

    check_output_path(out, "--out")
    if chunk_size is not None and chunk_size > MAX_RUNS:
        raise TwinsimError(f"--chunk-size: at most {MAX_RUNS:,} runs per task (got {chunk_size:,})")
    executor = engine_options(workers, scheduler, out, resume)["executor"]
    sc = load_scenario(scenario, set_ or [])
    with progress_bar(0, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(f"{sc.name} sweep", total=None)
        summary = run_sweep(
            sc,
            param,
            out=out,
            design=design,
            samples=samples,
            replicates=replicates,
            seed=seed,
            executor=executor,
            resume=resume,
            streams=streams,
            chunk_size=chunk_size,
            progress=lambda k, total: bar.update(task, advance=k, total=total),
            check=partial(
                check_size, force=force, what=f"{'--param' if design == 'grid' else '--samples'} x --replicates"
            ),
        )
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict()) + "\n")
    if summary.failed and summary.failed >= summary.design_points * summary.replicates:
        if summary.retryable == summary.failed:
            raise TwinsimError(
                f"every run of the sweep failed for lack of resources ({summary.failed}: memory, disk); free some, "
                f"then run again with --resume (into {summary.store}/) to retry them"
            )
        raise TwinsimError(
            f"every run of the sweep raised ({summary.failed}); their rows in {summary.store}/ hold the seed and error"
        )
    if as_json:
        return
    out_console.print(
        f"{summary.design_points} design points x {summary.replicates} replicates: {summary.done} runs done, "
        f"{summary.skipped} skipped (already stored), {summary.failed} failed; results in {summary.store}/",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if summary.failed > summary.retryable:
        err_console.print(
            f"twinsim: warning: {summary.failed - summary.retryable} run(s) raised; their rows hold the seed and error",
            markup=False,
            highlight=False,
        )
    if summary.retryable:
        err_console.print(
            f"twinsim: warning: {summary.retryable} run(s) failed for lack of resources (memory, disk); run again with "
            "--resume to retry them",
            markup=False,
            highlight=False,
        )
