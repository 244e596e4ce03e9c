"""The project's error types: one module, so callers catch by meaning, not by accident.

Every error that concerns input names the field, the value it got and what was expected,
so a user can fix the input without reading the code ("data integrity over availability").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class RiskstreamError(Exception):
    """Base class of every error Riskstream raises on purpose."""


class ConfigError(RiskstreamError, ValueError):
    """A configuration setting is missing, malformed or out of range."""


class InputError(RiskstreamError, ValueError):
    """One input value is wrong: names the field, the value and what was expected.

    Parameters
    ----------
    field : str
        The field (column, option, key) holding the bad value.
    value : Any
        The value received.
    expected : str
        What would have been accepted, in words ("a positive number", "one of B, S").
    location : str, optional
        Where the value came from, e.g. ``"positions.csv:14"``.
    """

    def __init__(self, field: str, value: Any, expected: str, location: str | None = None):
        self.field = field
        self.value = value
        self.expected = expected
        self.location = location
        where = f"{location}: " if location else ""
        super().__init__(f"{where}field '{field}' has value {value!r}; expected {expected}")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly record of the error (for quarantine tables and API responses)."""
        return {
            "location": self.location,
            "field": self.field,
            "value": repr(self.value)
            if not isinstance(self.value, str | int | float)
            else self.value,
            "expected": self.expected,
        }


class LoadError(RiskstreamError, ValueError):
    """A file could not be loaded because some records are bad; nothing was loaded.

    Carries every bad record's :class:`InputError`, not just the first, so a user can fix
    the whole file in one pass.
    """

    def __init__(self, source: str, errors: Sequence[InputError]):
        self.source = source
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors[:50])
        more = f"\n  ... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(
            f"{source}: {len(self.errors)} bad record(s), nothing loaded:\n{lines}{more}"
        )


class UnknownInstrumentError(InputError):
    """A record refers to an instrument the reference data does not know."""

    def __init__(self, value: Any, location: str | None = None):
        super().__init__("instrument", value, "an instrument in the reference data", location)


class ServiceUnavailableError(RiskstreamError, ConnectionError):
    """A backend (database, cache, bus) could not be reached."""


class FencedError(RiskstreamError):
    """A write made on the premise that a log's newest entry is ``expected`` found another:
    someone else wrote since (a leader that was replaced; see ``riskstream.runtime.standby``)."""

    def __init__(self, log: str, expected: int, detail: str = ""):
        self.log = log
        self.expected = expected
        super().__init__(f"{log}: the newest entry is no longer {expected} {detail}".strip())


class ModelError(RiskstreamError):
    """A model could not be fitted or used (too little data, no convergence, wrong version)."""
