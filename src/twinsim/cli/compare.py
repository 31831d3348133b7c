"""``twinsim compare``: the donor's comparison of delivery models."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from twinsim.analysis.voi import parse_population
from twinsim.cli.common import (
    ForceOption,
    JsonOption,
    NoPosteriorOption,
    PosteriorOption,
    QuietOption,
    ResumeOption,
    SchedulerOption,
    SetOption,
    StoreOption,
    TableFormatOption,
    WorkersOption,
    _load_posterior,
    _money,
    add_row,
    check_finite,
    check_output_path,
    check_seed,
    engine_options,
    new_table,
    output_folder,
    print_warnings,
    progress_bar,
    say,
    say_notes,
    share_cell,
    show_table,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.psa import UNCERTAINTY_MODES
from twinsim.experiments.resources import check_size
from twinsim.scenario import load_scenario


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
    no_posterior: NoPosteriorOption = False,
    uncertainty: Annotated[
        str,
        typer.Option(
            metavar="full|calibrated|none",
            help="Which inputs are uncertain: full (every uncertain input: the calibrated ones from the posterior, the"
            " rest from their priors; a probabilistic sensitivity analysis), calibrated (the posterior only) or none"
            " (the scenario's own values; --no-posterior is the same).",
        ),
    ] = "full",
    partner_gains: Annotated[
        bool,
        typer.Option(
            "--partner-gains",
            help="Count the outside partners' own gains (north-south's two-way benefit) in the effect, at par with"
            " the members' points (off: the effect is the programme country's indicators only).",
        ),
    ] = False,
    population: Annotated[
        str,
        typer.Option(
            metavar="PROGRAMMES:YEARS:DISCOUNT",
            help="Who the value of information is for: programmes a year, years, annual discount rate.",
        ),
    ] = "1:10:0.03",
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    store: StoreOption = None,
    resume: ResumeOption = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    table_format: TableFormatOption = "text",
    force: ForceOption = False,
) -> None:
    """Compare delivery models on the same replicates: effect, cost, ICER, dominance, equity, what remains."""
    check_seed(seed)
    from twinsim.analysis.compare import compare as run_comparison
    from twinsim.analysis.compare import parse_wtp

    check_finite(budget, "--budget", positive=True)
    check_output_path(out, "--out")
    engine = engine_options(workers, scheduler, store, resume)
    grid = parse_wtp(wtp) if wtp is not None else None
    scs = [load_scenario(s, set_ or []) for s in scenarios]
    for sc in scs:
        check_size(sc, 2 * replicates * len(scs), force=force)
    for sc in scs:
        print_warnings(sc)
    post = _load_posterior(posterior, scs[0], no_posterior)
    mode = _uncertainty_mode(uncertainty, no_posterior)

    programmes = parse_population(population)
    with progress_bar(0, "runs", quiet=as_json or quiet) as bar:
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
            uncertainty=mode,
            partner_gains=partner_gains,
            **engine,
        )
    if out is not None:
        with output_folder(out, "compare", force) as tmp:
            _write_comparison(result, tmp, programmes)
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    _print_comparison(result, table_format)
    _print_decision(result, table_format, programmes)
    if out is not None and table_format == "text":
        say(f"Tables and figures written to {out}/")


#: Below this many parameter draws the value-of-information estimates are flagged as rough.
ROUGH_DRAWS = 200


def _draws(result: Any) -> int:
    """How many distinct parameter draws the comparison's replicates ran."""
    runs = result.models[0].runs
    return int(runs["parameter_set"].nunique()) if "parameter_set" in runs else 0


def _uncertainty_mode(mode: str, no_posterior: bool) -> str:

    if mode not in UNCERTAINTY_MODES:
        raise TwinsimError(f"--uncertainty: unknown {mode!r}; allowed: {', '.join(UNCERTAINTY_MODES)}")
    if no_posterior and mode not in {"full", "none"}:
        raise TwinsimError(f"--no-posterior: not with --uncertainty {mode}")
    return "none" if no_posterior else mode


def _print_decision(result: Any, table_format: str, population: tuple[float, int, float]) -> None:
    """Value of information at each stretch of the frontier, and where each model is the best buy (PRIM)."""
    from twinsim.analysis.compare import MIN_DRAWS

    if table_format == "csv":
        return
    notes = [result.uncertainty_note()]
    if result.partner_gains:
        notes.append("Effects include the outside partners' own gains, at par with the members' (--partner-gains).")
    say_notes(notes, table_format)
    if not result.decision_grade():
        if result.draws is not None:
            say_notes(
                [
                    f"Value of information and where the answer flips need at least {2 * MIN_DRAWS} replicates"
                    f" ({MIN_DRAWS} parameter draws); this comparison drew fewer."
                ],
                table_format,
            )
        return
    points = result.decision_points() or [result.decision_wtp()]
    voi = result.value_of_information(points, population)
    currency = result.models[0].scenario.costs.currency
    groups = list(voi.groups)
    view = new_table(
        f"What would resolving the uncertainty be worth? EVPI and EVPPI per programme ({currency}), at a willingness"
        f" to pay per point in each stretch of the frontier",
        ("willingness to pay", "EVPI", f"EVPI, {population[0]:g}/year x {population[1]} years", *groups),
        left=(),
    )
    for k, wtp in enumerate(voi.wtp):
        add_row(
            view,
            f"{wtp:,.0f}",
            f"{voi.evpi[k]:,.0f}",
            f"{voi.evpi[k] * voi.population:,.0f}",
            *(f"{voi.evppi[g][k]:,.0f}" for g in groups),
        )
    show_table(view, table_format)
    at = int(np.argmax(voi.evpi))
    top = ", ".join(f"{key} {value:,.0f}" for key, value in voi.top(5, at) if value > 0) or "none above 0"
    notes = [
        f"EVPI: what removing all parameter uncertainty is worth per programme (replicate noise excluded; Strong,"
        f" Oakley & Brennan 2014 regression estimator); the population EVPI discounts at {population[2]:.0%} a year."
        f" EVPPI per group: what learning that group's inputs exactly is worth. Largest single-input EVPPIs at"
        f" {voi.wtp[at]:,.0f} {currency} per point: {top}.",
    ]
    draws = int(result.models[0].runs["parameter_set"].nunique())
    if draws < ROUGH_DRAWS:
        notes.append(
            f"From {draws} parameter draws these values are rough (a single input can even seem worth more than its"
            f" group): use --replicates {2 * ROUGH_DRAWS} or more for values to act on."
        )
    wtp = result.decision_wtp()
    regions = result.when_best(wtp)
    if regions:
        notes.append(f"When the answer flips (PRIM over the parameter draws, at {wtp:,.0f} {currency} per point):")
        notes += ["- " + region.sentence() for region in regions]
    else:
        notes.append(f"At {wtp:,.0f} {currency} per point one model is the best buy in at least 95% of the draws.")
    say_notes(notes, table_format)


def _write_comparison(result: Any, out: Path, population: tuple[float, int, float] = (1.0, 10, 0.03)) -> None:
    from twinsim.figures.comparison import plot_ce_plane, plot_ceac, plot_model_trajectories
    from twinsim.figures.plots import save

    out.mkdir(parents=True, exist_ok=True)
    (out / "comparison.json").write_text(json.dumps(result.to_dict(), indent=2))
    result.table().to_csv(out / "comparison.csv")
    result.probability_best().to_csv(out / "probability_best.csv")
    result.replicate_table().to_csv(out / "replicates.csv", index=False)
    result.ceac().to_csv(out / "ceac.csv", index=False)
    result.costs_by_activity().to_csv(out / "costs_by_activity.csv", index=False)
    result.costs_by_institution().to_csv(out / "costs_by_institution.csv", index=False)
    save(plot_ce_plane(result), out / "ce_plane.png")
    save(plot_ceac(result), out / "ceac.png")
    save(plot_model_trajectories(result), out / "trajectories.png")
    if result.decision_grade():
        import pandas as pd

        from twinsim.figures.comparison import plot_evpi, plot_evppi

        result.write_psa(out)
        voi = result.value_of_information(population=population)
        curves = pd.DataFrame({"wtp": voi.wtp, "evpi": voi.evpi, "evpi_population": voi.evpi * voi.population})
        for name, values in voi.evppi.items():
            curves[f"evppi:{name}"] = values
        curves.to_csv(out / "value_of_information.csv", index=False)
        save(plot_evpi(voi, result), out / "evpi.png")
        save(plot_evppi(voi, result), out / "evppi.png")


def _print_probability_best(result: Any, table_format: str) -> None:
    best = result.probability_best()
    buys = result.best_buy()
    wtps = list(buys.columns)[:4]
    currency = result.models[0].scenario.costs.currency
    uncertainty = {
        "full": f"{_draws(result)} parameter draws of every uncertain input",
        "calibrated": f"{_draws(result)} posterior draws of the calibrated parameters",
    }.get(result.uncertainty, "replicate noise only: --uncertainty none")
    view = new_table(
        f"Which model is best? Shares of {result.replicates} replicates ({uncertainty}); best buy: the highest net"
        " benefit "
        f"(willingness to pay x effect - cost) at a willingness to pay ({currency} per point) in each stretch of the "
        "frontier",
        (
            "model",
            "P(most effective)",
            *(f"P(best buy) at {w:,.0f}" for w in wtps),
            "effect, 95% of replicates (predictive)",
            "net benefit: param. share",
        ),
        left=("model",),
    )
    for name, row in best.iterrows():
        add_row(
            view,
            name,
            f"{row['p_most_effective']:.0%}",
            *(f"{buys.loc[name, w]:.0%}" for w in wtps),
            f"[{row['effect_range_low']:+.2f}, {row['effect_range_high']:+.2f}]",
            share_cell(row["net_benefit_param_share"]),
        )
    show_table(view, table_format)
    if table_format == "csv":
        return
    say_notes(_ranking_sentences(result, float(best["wtp"].iloc[0]), table_format), table_format)


def _ranking_sentences(result: Any, wtp: float, table_format: str = "text") -> list[str]:
    """The ranking's robustness in words a donor reads."""
    ranking = result.ranking(wtp)
    basis = ranking["basis"]
    lines = []
    for key, what in (("most_effective", "effect"),):
        entry = ranking[key]
        best = "most effective" if key == "most_effective" else "most cost-effective"
        text = (
            f"{entry['leader']} has the largest mean {what} and is the {best} in {entry['p_leader_best']:.0%} of "
            f"the {basis}"
        )
        if entry["runner_up"] is not None:
            text += f"; against {entry['runner_up']} the order reverses in {entry['reversal']:.0%}"
            share = entry["difference_param_share"]
            if result.draws is not None and share == share:  # noqa: PLR0124 (NaN: not estimable)
                text += (
                    f" ({share:.0%} of the spread of their difference is parameter uncertainty, "
                    f"{1 - share:.0%} replicate noise)"
                )
        lines.append("Ranking: " + text + ".")
    lines += _best_buy_sentences(result, basis)
    lines.append(
        "effect, 95% of replicates: where 95% of single runs of a programme land (a predictive range, wider than "
        "the confidence interval of the mean above). net benefit: willingness to pay x effect - cost."
    )
    return lines


def _best_buy_sentences(result: Any, basis: str) -> list[str]:
    """Which model is the best buy in each stretch of willingness to pay, and how often across the draws."""
    icers, points = result.frontier_wtps(), result.decision_points()
    if not points:
        return []
    buys = result.best_buy(points)
    currency = result.models[0].scenario.costs.currency
    bounds = [*icers, None]
    parts = []
    for k, point in enumerate(points):
        leader = buys[point].idxmax()
        upper = bounds[k + 1]
        stretch = f"from {bounds[k]:,.0f} to {upper:,.0f}" if upper is not None else f"above {bounds[k]:,.0f}"
        parts.append(f"{stretch} {currency} per point: {leader} ({buys.loc[leader, point]:.0%} of the {basis})")
    below = f"below {icers[0]:,.0f} {currency} per point no programme is worth its cost in expectation"
    return [
        "Best buy, by what a point of the mean indicator is worth to the donor: " + "; ".join(parts) + f"; {below}."
    ]


def _print_comparison(result: Any, table_format: str = "text") -> None:
    table = result.table()
    if table_format == "csv":  # for other tools: one tidy table, numbers as numbers (the --out comparison.csv)
        sys.stdout.write(table.to_csv())
        return
    first = result.models[0].scenario
    cur = f"{first.costs.currency} {first.costs.price_year}"
    budget = f", budget {result.budget:,.0f} {cur}" if result.budget is not None else ""
    view = new_table(
        f"Delivery models vs {result.reference} ({result.replicates} replicates, seed {result.seed}{budget}); "
        f"effects in points of the mean indicator at month {first.simulation.months}, sustained at month "
        f"{first.simulation.months + first.simulation.followup_months}",
        (
            "model",
            "delivery",
            "volume",
            "effect [95% CI of mean]",
            "param. share",
            "sustained",
            "cost",
            "cost/point",
            "people reached",
            "cost/person",
            "ICER",
            "dominance",
            "equity",
            "ties",
        ),
        left=("model", "delivery", "dominance"),
        drop=("delivery", "volume", "param. share", "people reached", "cost/person", "ties", "equity", "sustained"),
    )
    for name, row in table.iterrows():
        add_row(
            view,
            name,
            row["delivery_model"],
            f"{row['volume']:.2f}",
            f"{row['effect']:+.2f} [{row['effect_low']:+.2f}, {row['effect_high']:+.2f}]",
            share_cell(row["effect_param_share"]),
            f"{row['sustained_effect']:+.2f}",
            f"{row['cost']:,.0f}",
            _money(row["cost_per_point"]),
            f"{row['people_reached']:,.0f}",
            "-" if row["cost_per_person"] != row["cost_per_person"] else f"{row['cost_per_person']:,.2f}",
            _money(row["icer"]),
            row["dominance"],
            f"{row['equity_effect']:+.2f}",
            f"{row['ties']:.0f}",
        )
    show_table(view, table_format)
    if table_format != "csv":
        say_notes([_interval_note(result)], table_format)
        if table_format == "md":
            say("")
    _print_probability_best(result, table_format)
    if table_format == "text":
        say(
            f"Costs in {cur}. equity: change in the between-institution SD of the indicator caused by the programme "
            "(negative: institutions closer together)."
        )


def _interval_note(result: Any) -> str:
    """What the effect's interval and its parameter share mean, in a donor's words."""
    note = (
        "effect [95% CI of mean]: the mean over replicates and the 95% confidence interval of that mean. "
        "param. share: how much of the replicate-to-replicate spread of the effect is parameter uncertainty "
    )
    if result.draws is None:
        return note + "(0%: every replicate ran the scenario's own parameter values, --uncertainty none)."
    shares = [s for s in result.table()["effect_param_share"] if s == s]  # noqa: PLR0124 (NaN: not estimable)
    note += (
        "(what is not known about the inputs: how institutions learn, what things cost; better data would narrow"
        " it), the rest replicate noise (chance in how one programme unfolds, which no data remove)."
    )
    if len(shares) < len(result.models):
        note += " '-': no spread, or too few replicates share a posterior draw to tell (use more --replicates)."
    return note
