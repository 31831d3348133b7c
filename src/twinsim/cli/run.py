"""``twinsim run``: run a scenario's replicates and print the paper's comparison."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from twinsim.cli.common import (
    PosteriorOption,
    ScenarioArg,
    SetOption,
    _load_posterior,
    out_console,
    progress_bar,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import ReplicateSet, run_replicates
from twinsim.scenario import load_scenario


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
    from twinsim.viz.plots import plot_trajectories, save

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
        save(plot_trajectories(source, scenario=batch.scenario), out / "trajectories.png")


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
