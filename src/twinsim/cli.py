"""The ``twinsim`` command: a thin layer over the library.

User mistakes (a broken scenario, a bad override, a missing file) print one line on stderr and exit
with code 2, never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from twinsim.errors import TwinsimError
from twinsim.experiments import ReplicateSet, run_replicates
from twinsim.scenario import bundled_scenarios, load_scenario, resolve_scenario_path

app = typer.Typer(
    help="Simulate peer-learning (twinning) networks among health institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out_console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario value: section.key=value (repeatable).", metavar="KEY=VALUE"),
]
ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")]
PosteriorOption = Annotated[
    Path | None,
    typer.Option(
        "--posterior",
        help="Posterior CSV (from `twinsim calibrate`): each replicate draws one parameter set from it.",
    ),
]


def _load_posterior(path: Path | None, scenario: Any) -> Any:
    """The posterior in ``path`` checked against ``scenario`` (None without a path)."""
    if path is None:
        return None
    from twinsim.posterior import load_posterior

    return load_posterior(path, scenario)


def user_errors(func: F) -> F:
    """Turn a :class:`TwinsimError` into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TwinsimError as exc:
            err_console.print(f"twinsim: error: {exc}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def progress_bar(total: int, label: str, quiet: bool = False) -> Progress:
    """A Rich progress bar with ETA on stderr (silent when ``quiet``)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=quiet,
    )


@app.command()
@user_errors
def run(
    scenario: ScenarioArg,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Independent replicates.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for tables (Parquet or CSV) and figures.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Table format in --out: parquet or csv.")] = "parquet",
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
    posterior: PosteriorOption = None,
) -> None:
    """Run a scenario: a table of selected-vs-not effects and costs; tables and figures in --out."""
    if fmt not in {"parquet", "csv"}:
        raise TwinsimError(f"--format: must be parquet or csv (got {fmt!r})")
    sc = load_scenario(scenario, set_ or [])
    post = _load_posterior(posterior, sc)
    with progress_bar(replicates, "runs", quiet=as_json) as bar:
        task = bar.add_task(f"{sc.name}", total=replicates)
        batch = run_replicates(
            sc,
            replicates,
            seed,
            keep_tables=out is not None,
            progress=lambda k: bar.advance(task, k),
            posterior=post,
        )
    if out is not None:
        _write_outputs(batch, out, fmt)
    if as_json:
        sys.stdout.write(json.dumps(batch.to_dict()) + "\n")
        return
    _print_run_table(batch)
    if out is not None:
        out_console.print(f"Tables and figures written to {out}/")


def _write_outputs(batch: ReplicateSet, out: Path, fmt: str) -> None:
    from twinsim.plots import plot_trajectories, save

    out.mkdir(parents=True, exist_ok=True)
    tables = {"panel": batch.panels, "ledger": batch.ledgers, "summaries": batch.summaries}
    for name, frame in tables.items():
        if frame is None:
            continue
        if fmt == "parquet":
            frame.to_parquet(out / f"{name}.parquet", index=False)
        else:
            frame.to_csv(out / f"{name}.csv", index=False)
    (out / "summary.json").write_text(json.dumps(batch.to_dict(), indent=2))
    if batch.panels is not None:
        save(plot_trajectories(batch.panels, batch.scenario.simulation.months), out / "trajectories.png")


def _print_run_table(batch: ReplicateSet) -> None:
    sc = batch.scenario
    table = Table(
        title=f"{sc.name}: selected vs not selected, change over {sc.simulation.months} months "
        f"({batch.replicates} replicate{'s' if batch.replicates > 1 else ''}, seed {batch.seed})"
    )
    for col in ("topic", "unit", "effect", "95% CI", "n sel", "n not"):
        table.add_column(col, justify="left" if col == "topic" else "right", no_wrap=True)
    for topic, row in batch.selected_vs_not().iterrows():
        spec = sc.topics[str(topic)]
        table.add_row(
            str(topic),
            spec.unit,
            f"{row.estimate:+.2f}",
            f"[{row.ci95_low:+.2f}, {row.ci95_high:+.2f}]",
            f"{row.n_selected:.1f}",
            f"{row.n_not_selected:.1f}",
        )
    out_console.print(table)
    mean, lo, hi = batch.cost()
    cur = sc.costs.currency
    out_console.print(
        f"Programme cost: {mean:,.0f} {cur} (95% CI {lo:,.0f} to {hi:,.0f}), {sc.costs.price_year} prices"
    )


@app.command()
@user_errors
def validate(
    scenario: ScenarioArg,
    set_: SetOption = None,
) -> None:
    """Check a scenario file (and overrides); exit 0 when valid, 2 with the error otherwise."""
    sc = load_scenario(scenario, set_ or [])
    out_console.print(
        f"{resolve_scenario_path(scenario)}: valid ({sc.n_institutions} institutions, {len(sc.topics)} topics, "
        f"{sc.simulation.months} + {sc.simulation.followup_months} months, "
        f"delivery model {sc.programme.delivery_model})",
        markup=False,
        highlight=False,
    )


@app.command()
@user_errors
def scenarios() -> None:
    """List the bundled scenarios, one line each."""
    for name, path in sorted(bundled_scenarios().items()):
        sc = load_scenario(path)
        out_console.print(f"{name:<32} {sc.description}", markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------------------------------
# Evaluation: decomposition, power, calibration (docs/evaluation.md)


@app.command()
@user_errors
def decompose(
    scenario: ScenarioArg,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Replicate pairs.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    set_: SetOption = None,
    posterior: PosteriorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Split each topic's selected-vs-not difference into twinning and self-selection (counterfactual runs)."""
    from twinsim.decomposition import decompose as run_decomposition

    sc = load_scenario(scenario, set_ or [])
    post = _load_posterior(posterior, sc)
    with progress_bar(replicates, "pairs", quiet=as_json) as bar:
        task = bar.add_task(sc.name, total=replicates)
        result = run_decomposition(sc, replicates, seed, posterior=post, progress=lambda k: bar.advance(task, k))
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    table = Table(title=f"{sc.name}: selected vs not = twinning + self-selection ({replicates} replicate pairs)")
    for col in ("topic", "observed", "twinning", "self-selection", "twinning share"):
        table.add_column(col, justify="left" if col == "topic" else "right", no_wrap=True)
    for topic, row in result.summary().iterrows():
        cells = [
            f"{row[p]:+.2f} [{row[p + '_ci95_low']:+.2f}, {row[p + '_ci95_high']:+.2f}]"
            for p in ("observed", "twinning", "self_selection")
        ]
        table.add_row(str(topic), *cells, f"{row.twinning_share:.0%}")
    out_console.print(table)


@app.command()
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
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Power and minimum detectable effect of the selected-vs-not evaluation, per trial size and topic."""
    from twinsim.power import power_analysis

    try:
        sizes = [int(x) for x in institutions.split(",") if x.strip()]
    except ValueError:
        raise TwinsimError(
            f"--institutions: expected comma-separated whole numbers, e.g. 10,20,40 (got {institutions!r})"
        ) from None
    if not sizes or min(sizes) < 2:
        raise TwinsimError(f"--institutions: every size must be >= 2 (got {institutions!r})")
    sc = load_scenario(scenario, set_ or [])
    post = _load_posterior(posterior, sc)
    total = len(sizes) * replicates
    with progress_bar(total, "runs", quiet=as_json) as bar:
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
        )
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    table = Table(
        title=f"{sc.name}: power of the selected-vs-not evaluation (DiD, alpha {alpha}, measurement sd "
        f"{sc.evaluation.measurement_sd}, {replicates} trials per size)"
    )
    for col in ("institutions", "topic", "n sel", "n not", "mean effect", "power", "MDE (80%)"):
        table.add_column(col, justify="left" if col == "topic" else "right", no_wrap=True)
    for row in result.table().itertuples():
        table.add_row(
            str(row.institutions),
            str(row.topic),
            f"{row.n_selected:.1f}",
            f"{row.n_not_selected:.1f}",
            f"{row.mean_effect:+.2f}",
            f"{row.power:.0%}",
            f"{row.mde:.2f}",
        )
    out_console.print(table)


@app.command()
@user_errors
def calibrate(
    scenario: ScenarioArg,
    targets: Annotated[Path, typer.Option("--targets", help="Targets file (TOML), e.g. scenarios/targets/...")],
    budget: Annotated[int, typer.Option("--budget", min=1, help="Model runs for the ABC design.")] = 1000,
    out: Annotated[Path, typer.Option(help="Folder for the posterior, report and figure.")] = Path("calibration"),
    write_scenario: Annotated[
        bool,
        typer.Option(
            "--write-scenario", help="Write the point estimate into the scenario file (a comment points to --out)."
        ),
    ] = False,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report on stdout.")] = False,
) -> None:
    """Fit the targets file's parameters to its published effects (ABC); write a posterior for --posterior."""
    import os

    from twinsim.calibration import (
        calibrate as run_calibration,
    )
    from twinsim.calibration import (
        check_point_estimate,
        load_targets,
        posterior_predictive,
        write_outputs,
        write_point_estimate,
    )

    spec = load_targets(targets)
    sc = load_scenario(scenario, set_ or [])
    path = resolve_scenario_path(scenario)
    command = f"twinsim calibrate {scenario} --targets {targets} --budget {budget} --out {out}"
    command += "".join(f" --set {s}" for s in set_ or []) + (" --write-scenario" if write_scenario else "")
    k = spec.replicates_per_point
    n_accept = max(math.ceil((budget // k) * spec.accept), len(spec.parameters) + 2)
    total = (budget // k) * k + n_accept * spec.refine_replicates + spec.predictive_draws * k
    total += spec.check_replicates
    with progress_bar(total, "runs", quiet=as_json) as bar:
        task = bar.add_task(f"calibrating {sc.name}", total=total)
        result = run_calibration(sc, spec, budget, progress=lambda n: bar.advance(task, n))
        predictive = posterior_predictive(sc, result.posterior, spec, progress=lambda n: bar.advance(task, n))
        check = check_point_estimate(sc, spec, result.point_estimate, progress=lambda n: bar.advance(task, n))
    report = write_outputs(result, predictive, check, out, command)
    if write_scenario:
        pointer = os.path.relpath(out.resolve(), path.resolve().parent)
        write_point_estimate(path, report["point_estimate"], f"calibrated: best-fitting posterior draw, see {pointer}/")
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    table = Table(title=f"{sc.name}: ABC posterior ({report['accepted']} of {report['design_points']} points)")
    for col in ("parameter", "prior", "mean", "90% interval"):
        table.add_column(col, justify="left" if col == "parameter" else "right", no_wrap=True)
    for key, row in report["posterior"].items():
        table.add_row(
            key,
            f"[{row['prior_low']:.4g}, {row['prior_high']:.4g}]",
            f"{row['mean']:.4g}",
            f"[{row['q05']:.4g}, {row['q95']:.4g}]",
        )
    out_console.print(table)
    for key, fit in check.items():
        out_console.print(
            f"{key}: {fit['mean']:.2f} (95% CI {fit['ci95'][0]:.2f} to {fit['ci95'][1]:.2f}) at the point "
            f"estimate, target {fit['target']} ± {fit['sd']}",
            markup=False,
        )
    out_console.print(
        f"Posterior and report written to {out}/" + (f"; point estimate written to {path}" if write_scenario else "")
    )


def main() -> None:  # pragma: no cover - entry point
    """Entry point for ``python -m twinsim``."""
    app()
