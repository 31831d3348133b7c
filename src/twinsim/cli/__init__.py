"""The ``twinsim`` command: a thin layer over the library, one module per command.

User mistakes (a broken scenario, a bad override, a missing file) print one line on stderr and exit
with code 2, never a traceback.
"""

from __future__ import annotations

import typer

from twinsim.cli import calibrate, compare, decompose, explore, power, run, sensitivity, sweep, validate

app = typer.Typer(
    help="Simulate peer-learning (twinning) networks among health institutions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for command in (
    run.run,
    validate.validate,
    validate.scenarios,
    compare.compare,
    sweep.sweep,
    sensitivity.sensitivity,
    decompose.decompose,
    power.power,
    calibrate.calibrate,
    explore.explore,
):
    app.command()(command)


def main() -> None:  # pragma: no cover - entry point
    """Entry point for ``python -m twinsim``."""
    app()
