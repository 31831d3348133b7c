"""Errors raised for user mistakes; the CLI prints them on one line and exits 2."""


class TwinsimError(Exception):
    """Base class of every error a user can cause and fix."""


class ScenarioError(TwinsimError, ValueError):
    """A scenario file, override or reference is invalid: the message names the file, key and what is allowed."""
