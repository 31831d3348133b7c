"""Shared pieces of the commands: options, error handling, consoles, progress bar."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from twinsim.errors import TwinsimError
from twinsim.experiments.executors import DaskCluster, LocalProcesses, check_address
from twinsim.experiments.posterior import SCENARIO_POSTERIOR, as_posterior
from twinsim.scenario import scenario_warnings

# Piped or redirected output is never cut to 80 columns: a wide console, tables fold instead of truncating.
out_console = Console(width=None if sys.stdout.isatty() else 250)


err_console = Console(stderr=True)


F = TypeVar("F", bound=Callable[..., Any])


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario value: section.key=value (repeatable).", metavar="KEY=VALUE"),
]


ScenarioArg = Annotated[
    str, typer.Argument(help="A scenario file, or the name of a bundled scenario.", metavar="SCENARIO")
]

QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.", metavar="")]

JsonOption = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.", metavar="")]

TABLE_FORMATS = ("text", "md", "csv")


def _check_table_format(value: str) -> str:
    """Refuse an unknown --table-format before anything runs."""
    if value not in TABLE_FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(TABLE_FORMATS)} (got {value!r})")
    return value


TableFormatOption = Annotated[
    str,
    typer.Option(
        "--table-format",
        help="How the printed table looks: text (a box table), md (Markdown) or csv.",
        metavar="text|md|csv",
        callback=_check_table_format,
    ),
]


PosteriorOption = Annotated[
    str | None,
    typer.Option(
        "--posterior",
        help="Posterior CSV (from `twinsim calibrate`) or a bundled name (rwanda_tpn): each replicate draws "
        "one parameter set from it (default: the scenario's simulation.posterior, as the Python API's "
        "posterior='scenario').",
        metavar="FILE|NAME",
    ),
]

NoPosteriorOption = Annotated[
    bool,
    typer.Option(
        "--no-posterior",
        help="Run the scenario's own parameter values (replicate noise only), not its posterior (the Python "
        "API's posterior=None).",
        metavar="",
    ),
]


WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Local worker processes (default: 1, serial in this process)."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run on Dask: a running scheduler tcp://HOST:PORT, or 'local' to start a cluster on 127.0.0.1.",
    ),
]
StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Write every run to this result store as it finishes (Parquet, resumable)."),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Run even when the estimated memory exceeds what is available, and write --out into a folder "
        "holding other files.",
        metavar="",
    ),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="With --store: compute only the runs the store does not hold yet.", metavar="")
]


def engine_options(
    workers: int | None = None, scheduler: str | None = None, store: Path | None = None, resume: bool = False
) -> dict[str, Any]:
    """The experiment engine's options from the shared command-line options (checked before any run)."""
    if resume and store is None:
        raise TwinsimError("--resume: needs --store DIR (the result store to complete)")
    check_output_path(store, "--store")
    executor: Any = None
    if scheduler is not None:
        if scheduler != "local":
            check_address(scheduler)
            if workers is not None:
                raise TwinsimError("--workers: not with --scheduler ADDRESS (the cluster has its own workers)")
        executor = DaskCluster(None if scheduler == "local" else scheduler, workers)
    elif workers is not None and workers > 1:
        executor = LocalProcesses(workers)
    return {"executor": executor, "store": store, "resume": resume}


#: The file marking a folder written by a twinsim command (such a folder may be replaced by the next run).
OUTPUT_MARKER = ".twinsim-output"


def check_output_path(path: Path | None, option: str) -> None:
    """Refuse, before any run, an output folder that is a file, cannot be created or is not writable."""
    if path is None:
        return
    if str(path) in {"", "."}:
        raise TwinsimError(f"{option} {str(path)!r}: give a folder name, e.g. out/run1 (not the current folder)")
    if path.exists() and not path.is_dir():
        raise TwinsimError(f"{option} {path}: is a file, not a folder")
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise TwinsimError(f"{option} {path}: cannot be created: {ancestor} is a file")
    what = "is" if ancestor == path else f"cannot be created: {ancestor} is"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise TwinsimError(f"{option} {path}: {what} not writable")
    try:  # the real test (a read-only file system, /proc): make and remove an empty folder there
        os.rmdir(tempfile.mkdtemp(prefix=".twinsim-probe-", dir=ancestor))
    except OSError as exc:
        raise TwinsimError(f"{option} {path}: {what} not writable ({exc.strerror or exc})") from None


@contextmanager
def output_folder(out: Path, command: str, force: bool = False, option: str = "--out") -> Iterator[Path]:
    """Write a command's files into a temporary folder beside ``out``, then put it in place whole.

    A folder that an earlier twinsim command wrote (it holds ``OUTPUT_MARKER``), or an empty one, is replaced
    at once: no file of the earlier run is left beside the new ones. A folder holding anything else is refused
    unless ``force`` (then the new files are moved into it). On an error (a full disk) nothing is left behind.
    """
    check_output_path(out, option)
    ours = not out.exists() or not any(out.iterdir()) or (out / OUTPUT_MARKER).is_file()
    if not ours and not force:
        raise TwinsimError(
            f"{option} {out}: holds files that twinsim did not write; use a new folder or --force to write into it"
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # a folder like any other the user makes (mkdtemp's are private)
    except OSError as exc:
        raise TwinsimError(f"{option} {out}: cannot be created ({exc.strerror or exc})") from None
    try:
        yield tmp
        (tmp / OUTPUT_MARKER).write_text(f"written by twinsim {command}\n", encoding="utf-8")
        if ours:
            old = out.with_name(f".{out.name}.{os.getpid()}.old")
            if out.exists():
                os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            for item in tmp.iterdir():
                os.replace(item, out / item.name)
    except OSError as exc:
        raise TwinsimError(f"{option} {out}: cannot write ({exc.strerror or exc}); nothing was written") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_seed(seed: int | None) -> None:
    """Refuse a ``--seed`` outside [0, 2**63) before anything runs."""
    if seed is not None and not 0 <= seed < 2**63:
        shown = f"{seed}" if abs(seed) < 10**30 else f"a number of {len(str(abs(seed)))} digits"
        raise TwinsimError(f"--seed: must be a whole number from 0 to 2**63 - 1 (got {shown})")


def check_finite(value: float | None, option: str, *, positive: bool = False) -> None:
    """Refuse NaN, infinite (and, with ``positive``, zero or negative) values of a numeric option."""
    if value is None:
        return
    if not math.isfinite(value):
        raise TwinsimError(f"{option}: must be a finite number (got {value})")
    if positive and value <= 0:
        raise TwinsimError(f"{option}: must be greater than 0 (got {value:g})")


def _load_posterior(ref: str | Path | None, scenario: Any, off: bool = False) -> Any:
    """The posterior to draw from, checked against ``scenario``.

    ``ref`` (a file or a bundled name), else the scenario's ``simulation.posterior``; None with ``off``
    (``--no-posterior``) or when there is none.
    """
    if off and ref is not None:
        raise TwinsimError("--no-posterior: not with --posterior")
    if off:
        return None

    return as_posterior(ref or SCENARIO_POSTERIOR, scenario)  # the API's own default: one door


def literal(text: str) -> str:
    """``text`` with control characters (escape sequences, line breaks) shown as escapes: one line, no codes."""
    return "".join(repr(ch)[1:-1] if ord(ch) < 32 or 127 <= ord(ch) < 160 else ch for ch in text)


def user_errors(func: F) -> F:
    """Turn a :class:`TwinsimError` into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TwinsimError as exc:
            err_console.print(f"twinsim: error: {literal(str(exc))}", markup=False, highlight=False, soft_wrap=True)
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
        disable=quiet or not err_console.is_terminal,  # no bar in logs and pipes
    )


def _money(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # noqa: PLR0124


def print_warnings(scenario: Any) -> list[str]:
    """Print on stderr, one line each, why the scenario's results cannot mean anything; return the lines."""
    lines = scenario_warnings(scenario)
    for line in lines:
        err_console.print(f"twinsim: warning: {line}", markup=False, highlight=False, soft_wrap=True)
    return lines


class TwinsimTable(Table):
    """A Rich table that knows which columns it may leave out in a narrow terminal (least important first)."""

    droppable: tuple[str, ...] = ()


def new_table(title: str, columns: Sequence[str], left: Sequence[str] = (), drop: Sequence[str] = ()) -> Table:
    """A table whose title and cells are printed literally (no Rich markup); cells wrap, never truncate.

    ``drop``: the columns a terminal too narrow for the whole table may leave out, least important first (a note
    under the table names them); the first column is never left out.
    """
    table = TwinsimTable(title=Text(title))
    table.droppable = tuple(drop)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right", overflow="fold")
    return table


#: Between two columns of a table narrowed to the terminal: two spaces, no rules.
_GAP = 2


def _cell_lines(cell: str, narrow: bool) -> list[str]:
    """A cell's lines: in a narrow table an estimate and its interval ("+1.2 [+0.3, +2.1]") go on two lines."""
    return cell.replace(" [", "\n[").split("\n") if narrow else cell.split("\n")


def _wrap_name(name: str, width: int) -> str:
    """A name wrapped after its underscores into lines of at most ``width`` (where its pieces allow)."""
    lines: list[str] = []
    for piece in name.replace("_", "_\n").split("\n"):
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return "\n".join(lines)


def _needed(header: str, cells: Sequence[str], narrow: bool) -> int:
    """The width a column needs with its header wrapped at spaces and no cell cut."""
    words = [len(w) for w in header.split()] or [0]
    return max([max(words), *(len(line) for c in cells for line in _cell_lines(c, narrow))])


def _narrow_table(
    table: Table, headers: list[str], rows: list[tuple[str, ...]], width: int
) -> tuple[Table | None, list[str]]:
    """The table fitted to ``width``: compact layout, estimates above their intervals, then columns left out.

    Returns the table and the headers of the columns left out; ``None`` when even the first two columns do not fit.
    The first column is never left out.
    """
    keep = list(range(len(headers)))
    declared = [headers.index(h) for h in getattr(table, "droppable", ()) if h in headers]
    columns = [[row[i] for row in rows] for i in range(len(headers))]
    full = [_needed(h, c, narrow=False) for h, c in zip(headers, columns, strict=True)]
    split = [_needed(h, c, narrow=True) for h, c in zip(headers, columns, strict=True)]
    words = [len(w) for w in headers[0].split()]
    shortest_label = max([*words, *(len(p) for c in columns[0] for p in c.replace("_", "_\n").split("\n"))])
    narrow = [False] * len(headers)
    wrap_label = False

    def widths_now() -> list[int]:
        widths = [split[i] if narrow[i] else full[i] for i in range(len(headers))]
        if wrap_label:  # names wrap after their underscores, as little as needed
            over = sum(widths[i] for i in keep) + _GAP * (len(keep) - 1) - width
            widths[0] = max(shortest_label, full[0] - max(over, 0))
        return widths

    while sum((widths := widths_now())[i] for i in keep) + _GAP * (len(keep) - 1) > width:
        wide = [i for i in keep if not narrow[i] and split[i] < full[i]]
        if wide:  # 1. estimates above their intervals, widest column first
            narrow[max(wide, key=lambda i: full[i] - split[i])] = True
        elif any(i in keep for i in declared):  # 2. the columns the table says it can do without
            keep.remove(next(i for i in declared if i in keep))
        elif not wrap_label and shortest_label < full[0]:  # 3. names on two lines
            wrap_label = True
        elif len(keep) > 2:  # 4. columns from the right
            keep.remove(keep[-1])
        else:
            return None, []
    for i in [i for i in reversed(range(len(headers))) if i not in keep]:  # room left: the last left out come back
        trial = sorted([*keep, i])
        if sum(widths[j] for j in trial) + _GAP * (len(trial) - 1) <= width:
            keep = trial
    view = Table(
        title=table.title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        header_style="bold",
    )
    for i in keep:
        source = table.columns[i]
        view.add_column(source.header, justify=source.justify, width=widths[i], overflow="fold")
    for row in rows:
        cells = ["\n".join(_cell_lines(row[i], narrow[i])) for i in keep]
        if widths[0] < full[0]:
            cells[0] = _wrap_name(cells[0], widths[0])
        view.add_row(*(Text(cell) for cell in cells))
    return view, [headers[i] for i in range(len(headers)) if i not in keep]


def add_row(table: Table, *cells: Any) -> None:
    """Add a row of plain text (text from scenario files is never read as markup)."""
    table.add_row(*(Text(str(c)) for c in cells))


def show_table(table: Table, fmt: str = "text") -> None:
    """Print ``table`` on stdout as a box table (``text``), Markdown (``md``) or CSV (``csv``)."""
    if fmt not in TABLE_FORMATS:
        raise TwinsimError(f"--table-format: must be one of {', '.join(TABLE_FORMATS)} (got {fmt!r})")
    headers = [str(c.header) for c in table.columns]
    rows = list(zip(*[[str(cell) for cell in c.cells] for c in table.columns], strict=True))
    if fmt == "text":
        width = _text_width() or out_console.width
        wide = out_console.options.update(max_width=100_000)
        if Measurement.get(out_console, wide, table).maximum <= width:
            out_console.print(table, width=width)
            return
        view, left_out = _narrow_table(table, headers, rows, width)
        if view is not None:  # compact, estimates above their intervals, the least important columns left out
            out_console.print(view, width=width)
            if left_out:
                out_console.print(
                    f"Left out to fit {width} columns: {', '.join(left_out)} (a wider terminal or --table-format md "
                    "shows every column).",
                    markup=False,
                    highlight=False,
                    width=width,
                )
            return
        # narrower still: one block per row, titled with its first column's header and value
        out_console.print(Text(str(table.title or ""), style="italic"), justify="center", width=width)
        for row in rows:
            block = Table(title=Text(f"{headers[0]}: {row[0]}"), show_header=False, title_justify="left")
            block.add_column(overflow="fold")
            block.add_column(justify="right", overflow="fold")
            for header, cell in zip(headers[1:], row[1:], strict=True):
                block.add_row(Text(header), Text(cell))
            out_console.print(block, width=width)
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
        return
    title = str(table.title) if table.title is not None else ""
    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(headers) + " |")
    lines.append("|" + "|".join("---" if c.justify == "left" else "---:" for c in table.columns) + "|")
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    # a blank line ends the table: Markdown reads a line right under a table as one more row
    sys.stdout.write("\n".join(lines) + "\n\n")


def _text_width() -> int | None:
    """The terminal's width (``COLUMNS`` if set): what tables and notes fit; None when piped (no limit)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return out_console.width if out_console.is_terminal else None


def say(text: str, wrap: bool = True) -> None:
    """Print a line of plain text on stdout (no markup, no highlighting, not cut; wrapped at words in a terminal).

    ``wrap=False``: never wrapped (Markdown and CSV output is the same in any terminal).
    """
    width = _text_width() if wrap else None
    if width is None:
        out_console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        out_console.print(text, markup=False, highlight=False, width=width, overflow="fold")


def say_notes(lines: Sequence[str], fmt: str = "text") -> None:
    """Print the notes under a table: one line each, or with ``md`` one paragraph each (blank lines between)."""
    for i, line in enumerate(lines):
        if fmt == "md" and i:
            say("")
        say(line, wrap=fmt == "text")


__all__ = [
    "ForceOption",
    "JsonOption",
    "NoPosteriorOption",
    "PosteriorOption",
    "QuietOption",
    "ResumeOption",
    "ScenarioArg",
    "SchedulerOption",
    "SetOption",
    "StoreOption",
    "TableFormatOption",
    "WorkersOption",
    "add_row",
    "check_finite",
    "check_output_path",
    "check_seed",
    "engine_options",
    "err_console",
    "literal",
    "new_table",
    "out_console",
    "output_folder",
    "print_warnings",
    "progress_bar",
    "say",
    "say_notes",
    "show_table",
    "user_errors",
]


def share_cell(value: float) -> str:
    """A parameter share for a table cell: a percentage, or '-' when it cannot be estimated (NaN)."""
    return "-" if value != value else f"{value:.0%}"  # noqa: PLR0124 (NaN)
