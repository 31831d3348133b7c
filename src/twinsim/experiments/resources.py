"""Sizes checked against the machine before a run: an estimate of the memory a command needs.

The estimate is deliberately simple and errs on the large side: the model's state of one batch of replicates
(institutions x topics), each institution's agent, the panel of every run whose panel is kept in memory
(institutions x topics x months), and one row per run of the runs table. A command refuses, with one line, to start
a run that needs more than the memory available to it (``--force`` runs it anyway).
"""

from __future__ import annotations

import resource
from typing import TYPE_CHECKING

from twinsim.errors import TwinsimError

if TYPE_CHECKING:
    from twinsim.scenario.schema import Scenario

#: Bytes per (institution, topic) of one replicate's state arrays (capacity, baseline, ties, interest, gains...).
STATE_BYTES = 400
#: Bytes per institution of one replicate (its Mesa agent and per-institution arrays).
AGENT_BYTES = 2_000
#: Bytes per (institution, topic, month) row of a panel kept in memory (a long pandas table).
PANEL_BYTES = 120
#: Bytes per run of the runs table (one row per run, a few columns per topic).
RUN_BYTES = 400
#: Bytes of the interpreter, NumPy, pandas and the model's code.
BASE_BYTES = 300 * 2**20
#: Most runs one command may ask for (beyond this, a run would take years, whatever the memory).
MAX_RUNS = 10**9

#: Rows (replicates x institutions) above which holding more replicates in one model stops paying and only adds
#: memory: a network this large already spreads each step's fixed cost over many rows.
MAX_BATCH_ROWS = 20_000


def available_memory() -> int:
    """Bytes this process may still allocate: the machine's available memory, within any address-space limit."""
    import psutil

    free = int(psutil.virtual_memory().available)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        free = min(free, max(0, soft - int(psutil.Process().memory_info().vms)))
    return free


def estimate_memory(
    scenario: Scenario, runs: int, kept_panels: int = 0, batch: int = 50, institutions: int | None = None
) -> int:
    """Bytes a command needs for ``runs`` runs of ``scenario``, ``kept_panels`` of them keeping their panel."""
    n = scenario.n_institutions if institutions is None else institutions
    topics = max(len(scenario.topics), 1)
    months = scenario.simulation.months + scenario.simulation.followup_months + 1
    rows = max(1, min(batch, runs, MAX_BATCH_ROWS // max(n, 1)))  # replicates held in one model at a time
    state = rows * n * (topics * STATE_BYTES + AGENT_BYTES)
    in_memory = scenario.recording.mode == "panel" and not scenario.recording.panel_dir
    panels = kept_panels * n * topics * months * PANEL_BYTES if in_memory else 0
    return BASE_BYTES + state + panels + runs * (RUN_BYTES + 16 * topics)


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:,.0f} {unit}" if unit == "bytes" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"  # pragma: no cover


def check_size(
    scenario: Scenario,
    runs: int,
    *,
    kept_panels: int = 0,
    force: bool = False,
    what: str = "--replicates",
    institutions: int | None = None,
) -> None:
    """Refuse (one line naming ``what``) a command whose runs need more memory than this machine has.

    ``runs`` is the number of model runs; ``kept_panels`` those whose panel stays in memory (``run --out``).
    With ``force`` the memory check is skipped (the run may then fail or swap); a run count beyond
    ``MAX_RUNS`` is refused even then.
    """
    if runs > MAX_RUNS:
        raise TwinsimError(f"{what}: {runs:,} model runs asked for; at most {MAX_RUNS:,} in one command")
    if force:
        return
    need, free = estimate_memory(scenario, runs, kept_panels, institutions=institutions), available_memory()
    n = scenario.n_institutions if institutions is None else institutions
    if need > free:
        raise TwinsimError(
            f"{what}: {runs:,} run(s) of {n:,} institutions x {len(scenario.topics)} topics x "
            f"{scenario.simulation.months + scenario.simulation.followup_months} months need about {_size(need)} of "
            f"memory; {_size(free)} is available (fewer runs or institutions, recording.mode = 'aggregate', or "
            "--force to try anyway)"
        )
