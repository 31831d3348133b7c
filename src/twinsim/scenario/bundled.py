"""Files shipped with twinsim besides scenarios: calibration targets and posterior samples, found by name.

``resolve_posterior("rwanda_tpn")`` is the bundled ``scenarios/posteriors/rwanda_tpn/posterior.csv`` and
``resolve_targets("rwanda_tpn")`` the bundled ``scenarios/targets/rwanda_tpn.toml``; a path to an existing file
is returned as it is. An unknown name raises with the bundled names and a "did you mean".
"""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from twinsim.errors import ScenarioError

__all__ = ["bundled_posteriors", "bundled_targets", "did_you_mean", "resolve_posterior", "resolve_targets"]


def _folder() -> Path:
    return Path(str(resources.files("twinsim") / "scenarios"))


def bundled_posteriors() -> dict[str, Path]:
    """Bundled posterior samples by name (the calibrated scenario's name)."""
    folder = _folder() / "posteriors"
    if not folder.is_dir():
        return {}
    return {p.name: p / "posterior.csv" for p in sorted(folder.iterdir()) if (p / "posterior.csv").is_file()}


def bundled_targets() -> dict[str, Path]:
    """Bundled calibration-target files by name (file stem)."""
    folder = _folder() / "targets"
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def did_you_mean(name: str, choices: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _resolve(ref: str | os.PathLike[str], bundled: dict[str, Path], option: str) -> Path:
    path = Path(ref)
    if path.is_file():
        return path
    if os.fspath(ref) in bundled:
        return bundled[os.fspath(ref)]
    names = sorted(bundled)
    hint = did_you_mean(path.stem, names)
    raise ScenarioError(f"{option} {ref}: no such file or bundled name{hint} (bundled: {', '.join(names) or 'none'})")


def resolve_posterior(ref: str | os.PathLike[str]) -> Path:
    """A posterior CSV path, or the name of a bundled posterior (e.g. ``"rwanda_tpn"``), as an existing path."""
    return _resolve(ref, bundled_posteriors(), "--posterior")


def resolve_targets(ref: str | os.PathLike[str]) -> Path:
    """A targets TOML path, or the name of bundled targets (e.g. ``"rwanda_tpn"``), as an existing path."""
    return _resolve(ref, bundled_targets(), "--targets")
