"""Errors raised by reo_core.

Every error carries a message that tells the user what to change, and optional details (a path, the
values that were compared) for logs and the plugin's "details" box.
"""

from __future__ import annotations

import logging
from collections.abc import Collection


class ReoError(Exception):
    """Base of all REO errors: ``message`` is for the user, ``details`` for the curious."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        if self.details:
            return f"{self.message}\n{self.details}"
        return self.message


class InputError(ReoError, ValueError):
    """An input file or argument that cannot be used as given (wrong bands, no CRS, NaNs...)."""


class ExtentError(InputError):
    """The requested extent does not fit the imagery (no overlap, all no-data, empty)."""


class OutputError(InputError):
    """The output folder cannot take the results: not writable, in use, holding earlier results,
    full."""


class Canceled(ReoError):  # noqa: N818 (the protocol's error kind is "Canceled")
    """The user canceled the work; nothing that looks finished was written."""


def check_choice(name: str, value: object, allowed: Collection[str]) -> None:
    """Raise an InputError (a ValueError) naming the allowed values unless ``value`` is one."""
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}; got '{value}'.")


def exit_status(error: ReoError, logger: logging.Logger) -> int:
    """Log a REO error for a command line; its exit status: 2 for bad input, 1 for anything else."""
    logger.error("%s", error)
    return 2 if isinstance(error, InputError) else 1
