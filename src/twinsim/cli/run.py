"""``twinsim run``: run a scenario's replicates and print the paper's comparison."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import typer

from twinsim.analysis.targets import load_targets
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
    check_output_path,
    check_seed,
    engine_options,
    new_table,
    output_folder,
    print_warnings,
    progress_bar,
    say,
    say_notes,
    show_table,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.engine import ReplicateSet, run_replicates
from twinsim.experiments.resources import check_size
from twinsim.programme.registry import DELIVERY_MODELS
from twinsim.scenario import load_scenario
from twinsim.scenario.bundled import bundled_targets


@user_errors
def run(
    scenario: ScenarioArg,
    replicates: Annotated[int, typer.Option("--replicates", "-r", min=1, help="Independent replicates.")] = 1,
    seed: Annotated[int | None, typer.Option(help="Experiment seed (default: simulation.seed).")] = None,
    set_: SetOption = None,
    out: Annotated[Path | None, typer.Option(help="Folder for tables (Parquet or CSV) and figures.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Table format in --out: parquet or csv.", metavar="parquet|csv")
    ] = "parquet",
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    table_format: TableFormatOption = "text",
    posterior: PosteriorOption = None,
    no_posterior: NoPosteriorOption = False,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    store: StoreOption = None,
    resume: ResumeOption = False,
    force: ForceOption = False,
) -> None:
    """Run a scenario: per topic, the before-after change and the paper's selected-vs-not comparison, and the cost.

    Tables (Parquet or CSV) and a figure of the trajectories go to --out. Warnings about results that cannot mean
    anything (no comparison group, no learning rates, no kickoff...) are printed on stderr before the run.
    """
    check_seed(seed)
    if fmt not in {"parquet", "csv"}:
        raise TwinsimError(f"--format: must be parquet or csv (got {fmt!r})")

    check_output_path(out, "--out")
    engine = engine_options(workers, scheduler, store, resume)
    sc = load_scenario(scenario, set_ or [])
    check_size(sc, replicates, kept_panels=replicates if out is not None else 0, force=force)
    post = _load_posterior(posterior, sc, no_posterior)
    print_warnings(sc)
    with progress_bar(replicates, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(f"{sc.name}", total=replicates)
        batch = run_replicates(
            sc,
            replicates,
            seed,
            keep_tables=out is not None,
            progress=lambda k: bar.advance(task, k),
            posterior=post,
            **engine,
        )
    if out is not None:
        with output_folder(out, "run", force) as tmp:
            _write_outputs(batch, tmp, fmt)
    if as_json:
        sys.stdout.write(json.dumps(batch.to_dict()) + "\n")
        return
    _print_run_table(batch, table_format)
    if out is not None and table_format == "text":
        say(f"Tables and figures written to {out}/")


def _write_outputs(batch: ReplicateSet, out: Path, fmt: str) -> None:
    from twinsim.figures.plots import plot_trajectories, save

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


def _published(scenario_name: str) -> dict[str, float]:
    """Published selected-vs-not effects for a scenario with bundled calibration targets (topic -> value)."""
    path = bundled_targets().get(scenario_name)
    if path is None:
        return {}
    targets = load_targets(path).targets
    prefixes = ("measured_selected_vs_not.", "selected_vs_not.")  # the published comparison, measured or true
    return {t.key.split(".", 1)[1]: t.value for t in targets if t.key.startswith(prefixes)}


def _print_run_table(batch: ReplicateSet, table_format: str = "text") -> None:
    sc = batch.scenario
    several = batch.replicates > 1  # one replicate has no interval: say so rather than print a zero-width one
    published = _published(sc.name)
    columns = ["topic", "unit", "change, all", "chose it", "did not", "chose - did not", "95% CI", "n chose", "n not"]
    if published:
        columns.append("published")
    table = new_table(
        f"{sc.name}: change over {sc.simulation.months} months, endline minus baseline "
        f"({batch.replicates} replicate{'s' if several else ''}, seed {batch.seed})",
        columns,
        left=("topic",),
        drop=("n not", "n chose", "unit"),
    )
    change = batch.changes_by_topic()
    for topic, row in batch.effects_by_topic().items():
        ch = change[topic]
        defined = not math.isnan(row["estimate"])  # NaN: no comparison group
        if not defined:
            effect, interval = "n/a", "no comparison group"
        else:
            effect = f"{row['estimate']:+.2f}"
            interval = f"[{row['ci95_low']:+.2f}, {row['ci95_high']:+.2f}]" if several else "n/a"
        cells = [
            topic,
            sc.topics[str(topic)].unit,
            _signed(ch["all"]),
            _signed(ch["selected"]),
            _signed(ch["not_selected"]),
            effect,
            interval,
            f"{row['n_selected']:.1f}",
            f"{row['n_not_selected']:.1f}",
        ]
        if published:
            cells.append(f"{published[str(topic)]:+.1f}" if str(topic) in published else "")
        add_row(table, *cells)
    show_table(table, table_format)
    if table_format == "csv":  # a CSV file holds the table only
        return
    mean, lo, hi = batch.cost()
    cur = sc.costs.currency
    interval = f" (95% CI {lo:,.0f} to {hi:,.0f})" if several else ""
    notes = [
        f"Programme cost: {mean:,.0f} {cur}{interval}, {sc.costs.price_year} prices",
        "Changes in indicator points, averaged over institutions and replicates; 'chose - did not' is the paper's "
        "comparison (95% CI over replicates).",
    ]
    matching = _matching_note(batch)
    if matching:
        notes.append(matching)
    shares = {t: batch.parameter_share(f"selected_vs_not.{t}") for t in batch.topics}
    shares = {t: v for t, v in shares.items() if v == v}  # noqa: PLR0124 (NaN: no posterior)
    if shares and batch.posterior is not None:  # shares are known only for replicates that drew from a posterior
        low, high = min(shares.values()), max(shares.values())
        notes.append(
            f"Replicates drew their parameters from the posterior ({Path(batch.posterior).parent.name}): "
            f"{low:.0%}-{high:.0%} of the "
            "replicate-to-replicate variance of 'chose - did not' is parameter uncertainty, the rest the model's "
            "randomness."
        )
    if not several:
        notes.append("One replicate: no intervals; use --replicates 100 for the effects' uncertainty.")
    say_notes(notes, table_format)


def _matching_note(batch: ReplicateSet) -> str:
    """How many peer ties formed and how many chosen topics got no twin (ODD 7.18); empty without peer ties."""
    if "unmatched_share" not in batch.columns:
        return ""
    m = batch.matching()
    if m["unmatched_share"] is None:
        return ""
    ties = f"Peer ties: {m['ties']:.1f} per replicate"
    if not DELIVERY_MODELS[batch.scenario.programme.delivery_model].matches_within_cap:
        return f"{ties}; {m['unmatched_share']:.1%} of chosen topics got no twin."
    return (
        f"{ties}, at most {m['mentor_load_cap']} mentee(s) per mentor (programme.mentor_load_cap); "
        f"{m['unmatched_share']:.1%} of chosen topics got no twin: {m['unmatched_led_share']:.1%} because every peer "
        "leading them was at the cap, the rest because no peer of their kind leads them by programme.min_gap."
    )


def _signed(value: float) -> str:
    return "n/a" if value != value else f"{value:+.2f}"  # noqa: PLR0124
