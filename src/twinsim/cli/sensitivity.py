"""``twinsim sensitivity``: global sensitivity analysis."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

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
    check_output_path,
    check_seed,
    engine_options,
    new_table,
    out_console,
    output_folder,
    progress_bar,
    say,
    show_table,
    user_errors,
)
from twinsim.errors import TwinsimError
from twinsim.experiments.resources import check_size
from twinsim.scenario import SensitivitySpec, load_scenario


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
    """Global sensitivity analysis (SALib): which parameters and design choices drive the outputs."""
    check_seed(seed)
    from twinsim.analysis.sensitivity import build_factors, planned_runs, run_sensitivity

    check_output_path(out, "--out")
    sc = load_scenario(scenario, set_ or [])
    spec = _sensitivity_spec(sc, method, samples, param, output, replicates, second_order)
    options = engine_options(workers, scheduler, store, resume)
    total = planned_runs(spec, len(build_factors(sc, spec, f"{scenario}: sensitivity")))
    check_size(sc, total, force=force, what="--samples")
    post = _load_posterior(posterior, sc, no_posterior)
    with progress_bar(total, "runs", quiet=as_json or quiet) as bar:
        task = bar.add_task(f"{sc.name}: {spec.method}", total=total)
        result = run_sensitivity(
            sc,
            spec,
            seed=seed,
            progress=lambda k: bar.advance(task, k),
            options=options,
            source=f"{scenario}: sensitivity",
            posterior=post,
        )
    if out is not None:
        with output_folder(out, "sensitivity", force) as tmp:
            _write_sensitivity(result, tmp)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    _print_sensitivity(result, sc.name, table_format)
    if out is not None:
        out_console.print(f"Tables and figures written to {out}/", markup=False, highlight=False, soft_wrap=True)


def _sensitivity_spec(sc: Any, method, samples, param, output, replicates, second_order) -> Any:
    from pydantic import ValidationError

    from twinsim.analysis.sensitivity import parse_param

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
        option = _OPTIONS.get(str(err["loc"][0]), "")
        prefix = (
            f"{option}: " if option and str(err["loc"][0]) in {k for k, v in given.items() if v is not None} else ""
        )
        raise TwinsimError(f"{prefix}sensitivity.{loc}: {err['msg'].removeprefix('Value error, ')}") from None


#: The option that sets each field of the sensitivity spec (named in an error about a value given on the line).
_OPTIONS = {"method": "--method", "samples": "--samples", "outputs": "--output", "replicates": "--replicates"}


def _print_sensitivity(result: Any, name: str, table_format: str = "text") -> None:
    morris = result.method == "morris"
    for out in result.outputs:
        cols = (
            ("rank", "factor", "mu*", "± 95%", "sigma") if morris else ("rank", "factor", "S1", "± 95%", "ST", "± 95%")
        )
        table = new_table(
            f"{name}: {result.method} indices of {out} (N = {result.samples}, {result.runs} runs)", cols, ("factor",)
        )
        for rank, (factor, row) in enumerate(result.indices[out].iterrows(), start=1):
            keys = ("mu_star", "mu_star_conf", "sigma") if morris else ("S1", "S1_conf", "ST", "ST_conf")
            add_row(table, rank, factor, *(f"{row[k]:.3g}" if morris else f"{row[k]:.3f}" for k in keys))
        show_table(table, table_format)
        noise = result.noise.loc[out]
        if noise.replicates > 1 and table_format == "text":
            say(
                f"  replicate noise: {noise.noise_share:.1%} of a run's point-to-point variance,"
                f" {noise.noise_share_of_mean:.1%} of the analysed mean's ({int(noise.replicates)} replicates)"
            )
    if table_format != "text":
        return
    if result.posterior:
        say(
            f"Parameter uncertainty: replicate r of every design point drew the same parameter set from the posterior "
            f"({Path(result.posterior).parent.name}; keys the design varies excepted), so the indices are those of "
            f"the design averaged over {result.y.shape[1]} posterior draw(s); the interplay of design and parameters "
            "counts as replicate noise above (--no-posterior: the scenario's own values)."
        )
    else:
        say("Parameters: the scenario's own values in every run (no posterior: replicate noise only).")


def _write_sensitivity(result: Any, out: Path) -> None:
    import numpy as np
    import pandas as pd

    from twinsim.figures.sensitivity import save_figures

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
