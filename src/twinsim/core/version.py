"""The installed twinsim's version (one place for the package, the cluster check and the command line)."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version() -> str:
    """The version of the installed twinsim (``0+unknown`` in a source tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version  # slow to import: only when asked

    try:
        return version("twinsim")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"
