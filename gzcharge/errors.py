"""Errors that gzcharge raises for problems a user can fix.

Library code raises these with a message that says what is wrong (naming the file,
field or value) and how to fix it; only :mod:`gzcharge.cli` prints them and exits with
the class's ``exit_code``.
"""

from __future__ import annotations


class GzchargeError(Exception):
    """Base class of all user-facing gzcharge errors."""

    exit_code = 1


class ConfigError(GzchargeError):
    """A scenario file, ``--set`` override or command-line option is invalid."""

    exit_code = 2


class DataError(GzchargeError):
    """An input file or array is missing, malformed or inconsistent."""

    exit_code = 3


class NetworkError(GzchargeError):
    """A road graph or an online data source (Overpass) cannot be used."""

    exit_code = 4


class InfeasibleError(GzchargeError):
    """A model cannot meet its hard targets; the message names the demand that cannot be served.

    Parameters
    ----------
    message
        Human-readable explanation.
    unserved
        Ids of the demand (or paths) that cannot be served, when known.
    """

    exit_code = 5

    def __init__(self, message: str, unserved: list | None = None) -> None:
        super().__init__(message)
        self.unserved = list(unserved) if unserved is not None else []


class SolverError(GzchargeError):
    """The solver failed without a usable solution."""

    exit_code = 6


class ExportError(GzchargeError):
    """An output file cannot be written."""

    exit_code = 7
