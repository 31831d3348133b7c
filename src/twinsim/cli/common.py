"""Shared pieces of the commands: options, error handling, consoles, progress bar."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from twinsim.errors import TwinsimError

out_console = Console()


err_console = Console(stderr=True)


F = TypeVar("F", bound=Callable[..., Any])


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario value: section.key=value (repeatable).", metavar="KEY=VALUE"),
]


ScenarioArg = Annotated[str, typer.Argument(help="A scenario file, or the name of a bundled scenario.")]


PosteriorOption = Annotated[
    str | None,
    typer.Option(
        "--posterior",
        help="Posterior CSV (from `twinsim calibrate`) or a bundled name (rwanda_tpn): each replicate draws "
        "one parameter set from it.",
        metavar="FILE|NAME",
    ),
]


def _load_posterior(ref: str | Path | None, scenario: Any) -> Any:
    """The posterior in ``ref`` (a file or a bundled name) checked against ``scenario`` (None without one)."""
    if ref is None:
        return None
    from twinsim.experiments.posterior import load_posterior
    from twinsim.scenario import resolve_posterior

    return load_posterior(resolve_posterior(ref), scenario)


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


def _money(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # noqa: PLR0124
