"""Rwanda scenario on one core: runs per second, institution-months per second, and the ratio to the
straightforward Mesa reference (benchmarks/reference_model.py) measured in the same process.

    python benchmarks/bench_rwanda.py [--runs 300] [--reference-runs 20] [--batch 50 200] [--api 1000]
        [--cli 1000] [--also-sizes 1000]

Prints one JSON line per measurement:

- ``twinsim`` (whole runs): set-up, kickoff matching, every month, costing, recording and the summary;
- ``twinsim_steps`` and ``reference``: the months after the kickoff only, both started from the same
  kicked-off twinsim model (same population and ties), so this ratio compares like with like;
- ``twinsim_batched`` (whole runs, ``--batch R ...``): runs of R replicates at a time as one model with R blocks
  of rows (``simulate_many``; the same results as ``twinsim``), set-up to summary, and its ratio to the reference;
  ``twinsim_batched_steps``: the months after the kickoff of such a model, and their ratio to the reference;
- ``twinsim_api`` (``--api R ...``): the API's ``run_replicates(scenario, R)`` (the experiment engine, serial, summaries
  included), at the point estimate and drawing parameters from the shipped posterior, and its ratio to the reference;
- ``twinsim_cli`` (``--cli R ...``): ``twinsim run rwanda_tpn --replicates R`` as a new process (start-up, runs, the
  printed table; posterior by default, and ``--no-posterior``) and ``twinsim --help``, wall time, best of three after
  a warm-up, with twinsim's bytecode compiled first as an installed package has it (:func:`compile_bytecode`);
- with ``--also-sizes``, the same steps-only comparison on the Rwanda scenario scaled to that many
  institutions (benchmarks/common.py ``scaled_scenario``, same months as Rwanda).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
from pathlib import Path

from common import Timer, emit, scaled_scenario
from reference_model import ReferenceModel

import twinsim
from twinsim.model import TwinningModel, run_seed_sequence
from twinsim.model.results import simulate, simulate_many


def whole_runs(scenario, runs: int, seed: int) -> dict:
    n, months = scenario.n_institutions, scenario.simulation.months + scenario.simulation.followup_months
    for r in range(3):  # warm-up
        simulate(scenario, seed, r).summary()
    gc.collect()
    with Timer() as t:
        for r in range(runs):
            simulate(scenario, seed, r).summary()
    return {
        "model": "twinsim",
        "timed": "whole runs",
        "runs": runs,
        "seconds": round(t.seconds, 3),
        "runs_per_second": round(runs / t.seconds, 1),
        "institution_months_per_second": round(runs * n * months / t.seconds),
    }


def batched_runs(scenario, runs: int, seed: int, replicates: int) -> dict:
    """Whole runs, ``replicates`` at a time as one batch, each with its summary (at least two batches)."""
    n, months = scenario.n_institutions, scenario.simulation.months + scenario.simulation.followup_months
    batches = max(2, -(-runs // replicates))
    for result in simulate_many(scenario, seed, min(replicates, 20)):  # warm-up
        result.summary()
    gc.collect()
    with Timer() as t:
        for b in range(batches):
            for result in simulate_many(scenario, seed, replicates, first=b * replicates):
                result.summary()
    total = batches * replicates
    return {
        "model": "twinsim_batched",
        "timed": "whole runs",
        "replicates_per_batch": replicates,
        "runs": total,
        "seconds": round(t.seconds, 3),
        "runs_per_second": round(total / t.seconds, 1),
        "institution_months_per_second": round(total * n * months / t.seconds),
    }


def batched_steps(scenario, seed: int, replicates: int, repeats: int = 3) -> dict:
    """The months after the kickoff of a model of ``replicates`` replicates (``repeats`` models)."""
    seconds = 0.0
    for b in range(repeats):
        model = TwinningModel(
            scenario, seed, replicates=replicates, first_replicate=b * replicates, datacollector=False
        )
        model.step()  # kickoff, not timed
        gc.collect()
        with Timer() as t:
            model.run()
        seconds += t.seconds
    months = scenario.simulation.months + scenario.simulation.followup_months - 1
    return {
        "model": "twinsim_batched_steps",
        "timed": "months after the kickoff",
        "replicates_per_batch": replicates,
        "runs": repeats * replicates,
        "seconds": round(seconds, 3),
        "institution_months_per_second": round(repeats * replicates * scenario.n_institutions * months / seconds),
    }


def api_runs(scenario, replicates: int, seed: int, posterior: bool) -> dict:
    """``run_replicates`` through the experiment engine (serial), best of three."""
    from twinsim.experiments.engine import run_replicates
    from twinsim.experiments.posterior import load_posterior

    shipped = Path(twinsim.__file__).parent / "scenarios" / "posteriors" / "rwanda_tpn" / "posterior.csv"
    post = load_posterior(shipped) if posterior else None
    run_replicates(scenario, 20, seed, posterior=post)  # warm-up
    best = min(_timed(lambda: run_replicates(scenario, replicates, seed, posterior=post)) for _ in range(3))
    n, months = scenario.n_institutions, scenario.simulation.months + scenario.simulation.followup_months
    return {
        "model": "twinsim_api",
        "timed": "run_replicates (set-up to summaries)",
        "posterior": posterior,
        "runs": replicates,
        "seconds": round(best, 3),
        "institution_months_per_second": round(replicates * n * months / best),
    }


def compile_bytecode() -> None:
    """Compile twinsim's modules to bytecode, as ``pip install`` does for an installed package.

    An editable install writes its bytecode on the first run, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some
    CI machines): then every start would compile the sources again (about 0.05 s), which no user's install does.
    """
    package = Path(twinsim.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, capture_output=True)


def cli_runs(replicates: int, posterior: bool) -> dict:
    """``twinsim run rwanda_tpn --replicates R`` in a new process, wall time (best of three after a warm-up)."""
    args = ["twinsim", "run", "rwanda_tpn", "--replicates", str(replicates), "-q"]
    args += [] if posterior else ["--no-posterior"]
    subprocess.run(args, check=True, capture_output=True)  # warm-up: the files in the page cache
    best = min(_timed(lambda: subprocess.run(args, check=True, capture_output=True)) for _ in range(3))
    return {"model": "twinsim_cli", "command": " ".join(args), "runs": replicates, "seconds": round(best, 3)}


def _timed(work) -> float:
    with Timer() as t:
        work()
    return t.seconds


def steps_only(scenario, runs: int, seed: int) -> list[dict]:
    """Both models from the same kicked-off state, timed over the remaining months."""
    seconds = {"twinsim_steps": 0.0, "reference": 0.0}
    for r in range(runs):
        source = TwinningModel(scenario, run_seed_sequence(seed, r))
        source.step()  # kickoff, not timed
        with Timer() as t:
            reference = ReferenceModel(source, seed=r)
            reference.run()
        seconds["reference"] += t.seconds
        with Timer() as t:
            source.run()
        seconds["twinsim_steps"] += t.seconds
    months = scenario.simulation.months + scenario.simulation.followup_months - 1
    n = scenario.n_institutions
    return [
        {
            "model": name,
            "timed": "months after the kickoff",
            "institutions": n,
            "runs": runs,
            "seconds": round(s, 3),
            "institution_months_per_second": round(runs * n * months / s),
        }
        for name, s in seconds.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="twinsim whole runs to time")
    parser.add_argument("--reference-runs", type=int, default=20, help="runs of the steps-only comparison")
    parser.add_argument("--batch", type=int, nargs="*", default=[50, 200], help="replicates per batch to time")
    parser.add_argument("--api", type=int, nargs="*", default=[1000], help="replicates of run_replicates to time")
    parser.add_argument("--cli", type=int, nargs="*", default=[], help="replicates of `twinsim run` to time")
    parser.add_argument("--also-sizes", type=int, nargs="*", default=[], help="scaled networks to compare too")
    parser.add_argument("--seed", type=int, default=20210801)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    scenario = twinsim.load_scenario("rwanda_tpn")
    whole = whole_runs(scenario, args.runs, args.seed)
    emit({"benchmark": "rwanda", **whole})
    steps = steps_only(scenario, args.reference_runs, args.seed)
    for record in steps:
        emit({"benchmark": "rwanda", **record})
    reference_ims = steps[1]["institution_months_per_second"]
    emit(
        {
            "benchmark": "rwanda",
            "ratio_whole_runs_to_reference": round(whole["institution_months_per_second"] / reference_ims, 2),
            "ratio_steps_to_reference": round(steps[0]["institution_months_per_second"] / reference_ims, 2),
        }
    )
    for replicates in args.batch:
        batched = batched_runs(scenario, args.runs, args.seed, replicates)
        emit({"benchmark": "rwanda", **batched})
        emit(
            {
                "benchmark": "rwanda",
                "replicates_per_batch": replicates,
                "ratio_batched_whole_runs_to_reference": round(
                    batched["institution_months_per_second"] / reference_ims, 2
                ),
                "ratio_batched_to_whole_runs": round(
                    batched["institution_months_per_second"] / whole["institution_months_per_second"], 2
                ),
            }
        )
        months = batched_steps(scenario, args.seed, replicates)
        emit({"benchmark": "rwanda", **months})
        emit(
            {
                "benchmark": "rwanda",
                "replicates_per_batch": replicates,
                "ratio_batched_steps_to_reference": round(months["institution_months_per_second"] / reference_ims, 2),
            }
        )
    n, months = scenario.n_institutions, scenario.simulation.months + scenario.simulation.followup_months
    for replicates in args.api:
        for posterior in (False, True):
            api = api_runs(scenario, replicates, args.seed, posterior)
            ratio = round(api["institution_months_per_second"] / reference_ims, 2)
            emit({"benchmark": "rwanda", **api, "ratio_to_reference": ratio})
    if args.cli:
        compile_bytecode()
    for replicates in args.cli:
        reference_seconds = replicates * n * months / reference_ims
        for posterior in (True, False):
            cli = cli_runs(replicates, posterior)
            emit({"benchmark": "rwanda", **cli, "ratio_to_reference": round(reference_seconds / cli["seconds"], 2)})
        help_seconds = min(
            _timed(lambda: subprocess.run(["twinsim", "--help"], check=True, capture_output=True)) for _ in range(3)
        )
        emit(
            {
                "benchmark": "rwanda",
                "model": "twinsim_cli",
                "command": "twinsim --help",
                "seconds": round(help_seconds, 3),
            }
        )
    for size in args.also_sizes:
        sc = scaled_scenario(size, months=scenario.simulation.months, recording="panel")
        sc = sc.with_overrides({"simulation.followup_months": scenario.simulation.followup_months})
        big = steps_only(sc, max(1, args.reference_runs // 10), args.seed)
        for record in big:
            emit({"benchmark": "rwanda_scaled", **record})
        ratio = big[0]["institution_months_per_second"] / big[1]["institution_months_per_second"]
        emit(
            {
                "benchmark": "rwanda_scaled",
                "institutions": sc.n_institutions,
                "ratio_steps_to_reference": round(ratio, 1),
            }
        )


if __name__ == "__main__":
    main()
