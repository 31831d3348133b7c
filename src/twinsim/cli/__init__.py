"""The ``twinsim`` command: a thin layer over the library, one module per command.

User mistakes (a broken scenario, a bad override, a missing file) print one line on stderr and exit
with code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from twinsim.cli import calibrate, compare, decompose, explore, power, run, sensitivity, sweep, validate
from twinsim.cli.common import user_errors
from twinsim.cli.network import network_app
from twinsim.core.version import package_version
from twinsim.experiments.failures import environment_failure
from twinsim.experiments.process import tune_for_runs
from twinsim.programme.registry import load_plugin_file

app = typer.Typer(
    help="Simulate peer-learning (twinning) networks among health institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
#: Examples shown under each command's --help. tests/test_cli_examples.py runs every one as the help prints it, from
#: an empty folder (``my_country.toml`` there stands for the user's own file) and expects exit 0, so keep them quick.
EXAMPLES = {
    "run": [
        "twinsim run rwanda_tpn --replicates 100",
        "twinsim run rwanda_tpn -r 50 --set programme.twins_per_topic=2",
        "twinsim run rwanda_tpn -r 20 --posterior rwanda_tpn --out out/rwanda",
        "twinsim run rwanda_tpn -r 20 --table-format md",
    ],
    "validate": [
        "twinsim validate my_country.toml",
        "twinsim validate rwanda_tpn --set programme.matching=most_similar",
    ],
    "scenarios": ["twinsim scenarios"],
    "priors": ["twinsim priors", "twinsim priors rwanda_external_experts --table-format md"],
    "compare": [
        "twinsim compare rwanda_no_program rwanda_tpn rwanda_pairs --replicates 50",
        "twinsim compare rwanda_no_program rwanda_tpn rwanda_hybrid --budget 300000 --out out/compare",
    ],
    "sweep": [
        "twinsim sweep rwanda_tpn --param learning.gap_ceiling=0.3:0.9:4 --replicates 20 --out runs/ceiling",
    ],
    "sensitivity": [
        "twinsim sensitivity rwanda_design_sensitivity --samples 8 --out results/quick  # the file's 256: minutes",
        "twinsim sensitivity rwanda_tpn --method morris --samples 10 --param learning.forgetting=0:0.05 "
        "--output mean_gain",
    ],
    "decompose": [
        "twinsim decompose rwanda_tpn --replicates 200",
        "twinsim decompose rwanda_tpn --posterior rwanda_tpn",
    ],
    "power": ["twinsim power rwanda_tpn --institutions 10,20,40,80 --replicates 100 --topic accreditation"],
    "calibrate": [
        "twinsim calibrate rwanda_tpn --targets rwanda_tpn --out calibration/rwanda",
        "twinsim calibrate rwanda_tpn --targets rwanda_tpn --budget 2000 --out calibration/one_generation",
    ],
    "explore": ["twinsim explore", "twinsim explore rwanda_pairs --port 8800"],
}


def _epilog(name: str) -> str:
    """The examples block of a command's help (a leading backspace line keeps click from re-wrapping it)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[name])


def _version(value: bool) -> None:
    if value:
        typer.echo(f"twinsim {package_version()}")
        raise typer.Exit()


@app.callback()
@user_errors
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.", metavar=""),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the traceback of an unexpected error (a bug in twinsim); also accepted after the command.",
            metavar="",
        ),
    ] = False,
    plugin: Annotated[
        list[Path] | None,
        typer.Option(
            "--plugin",
            help="A Python file of your own activities or delivery models (its PLUGINS list), registered before the"
            " command runs (repeatable; docs/extending.md).",
            metavar="FILE.py",
        ),
    ] = None,
) -> None:
    """Simulate peer-learning (twinning) networks among health institutions."""
    for file in plugin or []:
        load_plugin_file(file)


for command in (
    run.run,
    validate.validate,
    validate.scenarios,
    validate.priors,
    compare.compare,
    sweep.sweep,
    sensitivity.sensitivity,
    decompose.decompose,
    power.power,
    calibrate.calibrate,
    explore.explore,
):
    app.command(epilog=_epilog(command.__name__))(command)


app.add_typer(network_app, name="network")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``twinsim`` and ``python -m twinsim``.

    A user's mistake is one line and exit 2 (``user_errors``), and so is a failure of the machine (out of memory, a
    full disk, a lost scheduler: :func:`twinsim.experiments.failures.environment_failure`); anything else is a bug
    in twinsim: one line naming it and exit 1, or its traceback with ``--debug`` (anywhere on the line) or
    ``TWINSIM_DEBUG=1``. Ctrl-C is one line and exit 130.
    """
    if argv is None:  # the command's own process (not a test calling main): tuned for runs
        tune_for_runs()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("TWINSIM_DEBUG", "") not in {"", "0"}
    args = [a for a in args if a != "--debug"]
    try:
        app(args, prog_name="twinsim")
    except KeyboardInterrupt:
        sys.stderr.write("twinsim: interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:
        if debug:
            raise
        from twinsim.cli.common import err_console, literal

        reason = environment_failure(exc)
        if reason is not None:  # the machine, not twinsim or the input: one line, exit 2
            err_console.print(f"twinsim: error: {literal(reason)}", markup=False, highlight=False, soft_wrap=True)
            raise SystemExit(2) from None
        err_console.print(
            f"twinsim: internal error: {type(exc).__name__}: {literal(str(exc))} (a bug in twinsim, not in your "
            "input: rerun with --debug for the traceback and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(1) from None
