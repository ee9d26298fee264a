"""Errors that the CLI's one boundary turns into a clear line and an exit code."""

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    PROBLEMS = 1  # findings of severity error (or of the --fail-on level)
    USAGE = 2  # bad usage, bad input, internal error


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit 2."""
