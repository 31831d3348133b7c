"""``twinsim calibrate``: fit uncertain parameters to published effects."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from twinsim.analysis.prior_sensitivity import sensitivity_sentences
from twinsim.cli.common import (
    ForceOption,
    JsonOption,
    QuietOption,
    ResumeOption,
    ScenarioArg,
    SchedulerOption,
    SetOption,
    StoreOption,
    TableFormatOption,
    WorkersOption,
    add_row,
    check_output_path,
    engine_options,
    new_table,
    out_console,
    output_folder,
    progress_bar,
    say_notes,
    show_table,
    user_errors,
)
from twinsim.experiments.resources import check_size
from twinsim.scenario import load_scenario, resolve_scenario_path, resolve_targets


@user_errors
def calibrate(
    scenario: ScenarioArg,
    targets: Annotated[
        str,
        typer.Option("--targets", help="Targets file (TOML) or a bundled name (rwanda_tpn).", metavar="FILE|NAME"),
    ],
    budget: Annotated[
        int,
        typer.Option(
            "--budget",
            min=1,
            help="Model runs for the fit (ABC-SMC: at most, it stops at its tolerance; at least one generation of "
            "smc.particles runs, 2,000 for the bundled targets).",
        ),
    ] = 20_000,
    out: Annotated[Path, typer.Option(help="Folder for the posterior, report and figure.")] = Path("calibration"),
    write_scenario: Annotated[
        bool,
        typer.Option(
            "--write-scenario", help="Write the point estimate into the scenario file (a comment points to --out)."
        ),
    ] = False,
    prior_check: Annotated[
        bool,
        typer.Option(
            "--prior-check/--no-prior-check",
            help="Also fit under the other prior family (log-uniform for uniform) and report what the prior decides:"
            " prior vs posterior predictive, predictive p-values, the answer under each prior (ABC-SMC; doubles"
            " the runs).",
        ),
    ] = True,
    set_: SetOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    store: StoreOption = None,
    resume: ResumeOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    table_format: TableFormatOption = "text",
    force: ForceOption = False,
) -> None:
    """Fit the targets file's parameters to its published effects (ABC); write a posterior for --posterior."""
    import os

    from twinsim.analysis.calibration import (
        check_write_back,
        fit_and_check,
        load_targets,
        write_outputs,
        write_point_estimate,
    )

    check_output_path(out, "--out")
    engine = engine_options(workers, scheduler, store, resume)
    spec = load_targets(resolve_targets(targets))
    sc = load_scenario(scenario, set_ or [])
    path = check_write_back(scenario) if write_scenario else resolve_scenario_path(scenario)
    command = f"twinsim calibrate {scenario} --targets {targets} --budget {budget} --out {out}"
    command += "".join(f" --set {s}" for s in set_ or []) + (" --write-scenario" if write_scenario else "")
    if spec.method == "smc":  # an upper bound: the fit stops when it reaches its final tolerance
        total = ((budget // spec.smc.particles) * spec.smc.particles + spec.predictive_draws) * (1 + prior_check)
    else:
        k = spec.replicates_per_point
        n_accept = max(math.ceil((budget // k) * spec.accept), len(spec.parameters) + 2)
        total = (budget // k) * k + n_accept * spec.refine_replicates + spec.predictive_draws * k
    total += spec.check_replicates
    check_size(sc, total, force=force, what="--budget")
    with progress_bar(total, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(f"calibrating {sc.name}", total=total)
        advance = lambda n: bar.advance(task, n)  # noqa: E731
        result, predictive, check, second = fit_and_check(sc, spec, budget, advance, engine, prior_check)
    with output_folder(out, "calibrate", force) as tmp:
        report = write_outputs(result, predictive, check, tmp, command, second)
    if write_scenario:
        pointer = os.path.relpath(out.resolve(), path.resolve().parent)
        write_point_estimate(path, report["point_estimate"], f"calibrated: best-fitting posterior draw, see {pointer}/")
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    if spec.method == "smc":
        title = (
            f"{sc.name}: ABC-SMC posterior ({len(report['generations'])} generations of {report['particles']}, "
            f"tolerance {report['final_tolerance']:.3g}, effective sample size {report['effective_sample_size']:.0f})"
        )
    else:
        title = f"{sc.name}: ABC posterior ({report['accepted']} of {report['design_points']} points)"
    table = new_table(
        title,
        ("parameter", "prior", "mean", "90% interval"),
        left=("parameter",),
    )
    for key, row in report["posterior"].items():
        add_row(
            table,
            key,
            f"[{row['prior_low']:.4g}, {row['prior_high']:.4g}]",
            f"{row['mean']:.4g}",
            f"[{row['q05']:.4g}, {row['q95']:.4g}]",
        )
    show_table(table, table_format)
    if table_format != "text":
        return
    for key, fit in check.items():
        out_console.print(
            f"{key}: {fit['mean']:.2f} (95% CI {fit['ci95'][0]:.2f} to {fit['ci95'][1]:.2f}) at the point "
            f"estimate, target {fit['target']} ± {fit['sd']}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    out_console.print(
        f"Posterior and report written to {out}/" + (f"; point estimate written to {path}" if write_scenario else ""),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if report.get("prior_sensitivity"):
        say_notes(["How much the prior decides:", *sensitivity_sentences(report["prior_sensitivity"])], table_format)
