"""Errors every command shares (kept apart so that the commands and the parser that runs them
do not import each other)."""

from __future__ import annotations


class CliError(Exception):
    """Bad input to a command; printed as one line, exit code 2."""
