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

import numpy as np
import pandas as pd
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
    tables = {
        "panel": batch.panels,
        "aggregates": batch.aggregates,
        "ledger": batch.ledgers,
        "summaries": batch.summaries,
    }
    for name, frame in tables.items():
        if frame is None:
            continue
        if fmt == "parquet":
            frame.to_parquet(out / f"{name}.parquet", index=False)
        else:
            frame.to_csv(out / f"{name}.csv", index=False)
    (out / "summary.json").write_text(json.dumps(batch.to_dict(), indent=2))
    source = batch.panels if batch.panels is not None else batch.aggregates
    if source is not None:
        save(plot_trajectories(source, batch.scenario.simulation.months), out / "trajectories.png")


def _print_run_table(batch: ReplicateSet) -> None:
    sc = batch.scenario
    table = Table(
        title=f"{sc.name}: selected vs not selected, change over {sc.simulation.months} months "
        f"({batch.replicates} replicate{'s' if batch.replicates > 1 else ''}, seed {batch.seed})"
    )
    for col in ("topic", "unit", "effect", "95% CI", "n sel", "n not"):
        table.add_column(col, justify="left" if col == "topic" else "right", no_wrap=True)
    several = batch.replicates > 1  # one replicate has no interval: say so rather than print a zero-width one
    for topic, row in batch.selected_vs_not().iterrows():
        spec = sc.topics[str(topic)]
        table.add_row(
            str(topic),
            spec.unit,
            f"{row.estimate:+.2f}",
            f"[{row.ci95_low:+.2f}, {row.ci95_high:+.2f}]" if several else "n/a",
            f"{row.n_selected:.1f}",
            f"{row.n_not_selected:.1f}",
        )
    out_console.print(table)
    mean, lo, hi = batch.cost()
    cur = sc.costs.currency
    interval = f" (95% CI {lo:,.0f} to {hi:,.0f})" if several else ""
    out_console.print(f"Programme cost: {mean:,.0f} {cur}{interval}, {sc.costs.price_year} prices")
    if not several:
        out_console.print("One replicate: no intervals; use --replicates 100 for the effects' uncertainty.")


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
# Comparing delivery models (issue 3)


@app.command()
@user_errors
def compare(
    scenarios: Annotated[list[str], typer.Argument(help="Scenario files or bundled names, one per delivery model.")],
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Replicates per model.")] = 50,
    budget: Annotated[
        float | None, typer.Option(help="Rescale every model's activity volume to spend this amount.")
    ] = None,
    wtp: Annotated[
        str | None, typer.Option(help="Willingness-to-pay range per indicator point, MIN:MAX:STEPS.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: the first scenario's).")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for tables and figures.")] = None,
    posterior: PosteriorOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Compare delivery models on the same replicates: effect, cost, ICER, dominance, equity, what remains."""
    from twinsim.compare import compare as run_comparison
    from twinsim.compare import parse_wtp

    grid = parse_wtp(wtp) if wtp is not None else None
    scs = [load_scenario(s, set_ or []) for s in scenarios]
    post = _load_posterior(posterior, scs[0])
    with progress_bar(0, "runs", quiet=as_json) as bar:
        task = bar.add_task("compare", total=None)
        result = run_comparison(
            scs,
            replicates,
            seed,
            budget=budget,
            wtp=grid,
            refs=scenarios,
            progress=lambda k: bar.advance(task, k),
            posterior=post,
        )
    if out is not None:
        _write_comparison(result, out)
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    _print_comparison(result)
    if out is not None:
        out_console.print(f"Tables and figures written to {out}/")


def _write_comparison(result: Any, out: Path) -> None:
    from twinsim.comparison_plots import plot_ce_plane, plot_ceac, plot_model_trajectories
    from twinsim.plots import save

    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(result.to_dict(), indent=2))
    result.table().to_csv(out / "comparison.csv")
    result.replicate_table().to_csv(out / "replicates.csv", index=False)
    result.ceac().to_csv(out / "ceac.csv", index=False)
    result.costs_by_activity().to_csv(out / "costs_by_activity.csv", index=False)
    result.costs_by_institution().to_csv(out / "costs_by_institution.csv", index=False)
    save(plot_ce_plane(result), out / "ce_plane.png")
    save(plot_ceac(result), out / "ceac.png")
    save(plot_model_trajectories(result), out / "trajectories.png")


def _print_comparison(result: Any) -> None:
    table = result.table()
    first = result.models[0].scenario
    cur = f"{first.costs.currency} {first.costs.price_year}"
    budget = f", budget {result.budget:,.0f} {cur}" if result.budget is not None else ""
    view = Table(
        title=f"Delivery models vs {result.reference} ({result.replicates} replicates, seed {result.seed}{budget}); "
        f"effects in points of the mean indicator at month {first.simulation.months}, sustained at month "
        f"{first.simulation.months + first.simulation.followup_months}"
    )
    for col in (
        "model",
        "delivery",
        "volume",
        "effect [95% CI]",
        "sustained",
        "cost",
        "cost/point",
        "ICER",
        "dominance",
        "equity",
        "ties",
    ):
        view.add_column(col, justify="left" if col in {"model", "delivery", "dominance"} else "right", no_wrap=True)
    for name, row in table.iterrows():
        view.add_row(
            str(name),
            row["delivery_model"],
            f"{row['volume']:.2f}",
            f"{row['effect']:+.2f} [{row['effect_low']:+.2f}, {row['effect_high']:+.2f}]",
            f"{row['sustained_effect']:+.2f}",
            f"{row['cost']:,.0f}",
            _money(row["cost_per_point"]),
            _money(row["icer"]),
            row["dominance"],
            f"{row['equity_effect']:+.2f}",
            f"{row['ties']:.0f}",
        )
    out_console.print(view)
    out_console.print(
        f"Costs in {cur}. equity: change in the between-institution SD of the indicator caused by the programme "
        "(negative: institutions closer together).",
        markup=False,
        highlight=False,
    )


def _money(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # noqa: PLR0124


# --------------------------------------------------------------------------------------------------
# Experiments at scale: sweeps into a result store


@app.command()
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
    out: Annotated[Path, typer.Option(help="Result-store directory (Parquet parts plus manifest.json).")],
    design: Annotated[str, typer.Option(help="grid, lhs or sobol.")] = "grid",
    samples: Annotated[int | None, typer.Option(help="Points of an lhs or sobol design.")] = None,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Replicates per point.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Local worker processes (default: all cores; 1 runs serially).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler tcp://HOST:PORT, or 'local' to start a Dask cluster on 127.0.0.1."),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Complete the store in --out: compute only missing runs.")] = False,
    streams: Annotated[str, typer.Option(help="common (same draws at every point) or independent.")] = "common",
    chunk_size: Annotated[int | None, typer.Option(min=1, help="Runs per task (default: automatic).")] = None,
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Run a design over scenario parameters, replicated, into a resumable result store."""
    from twinsim.executors import DaskCluster, LocalProcesses
    from twinsim.sweep import sweep as run_sweep

    if scheduler is not None and scheduler != "local" and workers is not None:
        raise TwinsimError("--workers: not with --scheduler ADDRESS (the cluster has its own workers)")
    if scheduler is None:
        executor: Any = 1 if workers == 1 else LocalProcesses(workers)
    else:
        executor = DaskCluster(None if scheduler == "local" else scheduler, workers)
    sc = load_scenario(scenario, set_ or [])
    with progress_bar(0, "runs", quiet=as_json) as bar:
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
        )
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict()) + "\n")
        return
    out_console.print(
        f"{summary.design_points} design points x {summary.replicates} replicates: {summary.done} runs done, "
        f"{summary.skipped} skipped (already stored), {summary.failed} failed; results in {summary.store}/",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if summary.failed:
        err_console.print(
            f"twinsim: warning: {summary.failed} run(s) raised; their rows hold the seed and error",
            markup=False,
            highlight=False,
        )


# --------------------------------------------------------------------------------------------------
# Global sensitivity analysis (twinsim.sensitivity)


@app.command()
@user_errors
def sensitivity(
    scenario: ScenarioArg,
    method: Annotated[str | None, typer.Option(help="sobol, morris or fast (default: the scenario's).")] = None,
    samples: Annotated[int | None, typer.Option(help="Base samples N (sobol: a power of 2).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="Vary KEY over its plausible range, KEY=LOW:HIGH, or KEY=A,B,C levels (repeatable; replaces"
            " the scenario's [sensitivity] params and choices).",
            metavar="KEY[=LOW:HIGH]",
        ),
    ] = None,
    output: Annotated[
        list[str] | None, typer.Option("--output", help="A run-summary output to analyse (repeatable).")
    ] = None,
    replicates: Annotated[int | None, typer.Option("--replicates", "-r", min=1, help="Runs per point.")] = None,
    second_order: Annotated[bool, typer.Option("--second-order", help="Sobol: also estimate S2.")] = False,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for tables and figures.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Local worker processes (default: serial).")] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run on Dask: a scheduler address tcp://HOST:PORT, or 'local' to start one.")
    ] = None,
    store: Annotated[Path | None, typer.Option(help="Store runs here as they finish; a rerun resumes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")] = False,
) -> None:
    """Global sensitivity analysis (SALib): which parameters and design choices drive the outputs."""
    from twinsim.sensitivity import build_factors, engine_options, planned_runs, run_sensitivity

    sc = load_scenario(scenario, set_ or [])
    spec = _sensitivity_spec(sc, method, samples, param, output, replicates, second_order)
    options = engine_options(workers, scheduler, store)
    total = planned_runs(spec, len(build_factors(sc, spec, f"{scenario}: sensitivity")))
    with progress_bar(total, "runs", quiet=as_json) as bar:
        task = bar.add_task(f"{sc.name}: {spec.method}", total=total)
        result = run_sensitivity(
            sc,
            spec,
            seed=seed,
            progress=lambda k: bar.advance(task, k),
            options=options,
            source=f"{scenario}: sensitivity",
        )
    if out is not None:
        _write_sensitivity(result, out)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    _print_sensitivity(result, sc.name)
    if out is not None:
        out_console.print(f"Tables and figures written to {out}/")


def _sensitivity_spec(sc: Any, method, samples, param, output, replicates, second_order) -> Any:
    from pydantic import ValidationError

    from twinsim.scenario import SensitivitySpec
    from twinsim.sensitivity import parse_param

    data = sc.sensitivity.model_dump()
    given = {"method": method, "samples": samples, "outputs": output or None, "replicates": replicates}
    data.update({k: v for k, v in given.items() if v is not None})
    if second_order:
        data["second_order"] = True
    if param:
        data["params"] = dict(parse_param(p) for p in param)
        data["choices"] = {}
    try:
        return SensitivitySpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise TwinsimError(f"sensitivity.{loc}: {err['msg'].removeprefix('Value error, ')}") from None


def _print_sensitivity(result: Any, name: str) -> None:
    morris = result.method == "morris"
    for out in result.outputs:
        table = Table(title=f"{name}: {result.method} indices of {out} (N = {result.samples}, {result.runs} runs)")
        cols = (
            ("rank", "factor", "mu*", "± 95%", "sigma") if morris else ("rank", "factor", "S1", "± 95%", "ST", "± 95%")
        )
        for col in cols:
            table.add_column(col, justify="left" if col == "factor" else "right", no_wrap=True)
        for rank, (factor, row) in enumerate(result.indices[out].iterrows(), start=1):
            keys = ("mu_star", "mu_star_conf", "sigma") if morris else ("S1", "S1_conf", "ST", "ST_conf")
            table.add_row(str(rank), str(factor), *(f"{row[k]:.3g}" if morris else f"{row[k]:.3f}" for k in keys))
        out_console.print(table)
        noise = result.noise.loc[out]
        if noise.replicates > 1:
            out_console.print(
                f"  replicate noise: {noise.noise_share:.1%} of a run's point-to-point variance,"
                f" {noise.noise_share_of_mean:.1%} of the analysed mean's ({int(noise.replicates)} replicates)"
            )


def _write_sensitivity(result: Any, out: Path) -> None:
    from twinsim.sensitivity_plots import save_figures

    out.mkdir(parents=True, exist_ok=True)
    result.ranked().to_csv(out / "indices.csv", index=False)
    result.noise.to_csv(out / "noise.csv")
    result.convergence.to_csv(out / "convergence.csv", index=False)
    names = [f.name for f in result.factors]
    runs = pd.DataFrame(np.repeat(result.x, result.y.shape[1], axis=0), columns=[f"x:{n}" for n in names])
    runs.insert(0, "replicate", np.tile(np.arange(result.y.shape[1]), result.y.shape[0]))
    runs.insert(0, "point", np.repeat(np.arange(result.y.shape[0]), result.y.shape[1]))
    for k, name in enumerate(result.outputs):
        runs[name] = result.y[:, :, k].ravel()
    runs.to_csv(out / "runs.csv", index=False)
    (out / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    if result.second_order:
        s2 = pd.concat({k: v.stack() for k, v in result.second_order.items()}, names=["output", "factor", "with"])
        s2.dropna().rename("S2").to_csv(out / "second_order.csv")
    save_figures(result, out)


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
