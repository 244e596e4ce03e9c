"""Input checks shared by every backtest: one place that says what a valid series is.

Backtests fail quietly on bad input (a NaN makes a hit look like a non-hit, a 99 instead of
0.99 makes every p-value meaningless), so each public function validates at the boundary
and raises :class:`~riskstream.core.errors.InputError` naming the field, the value and what
was expected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError


def check_level(value: float, field: str = "confidence") -> float:
    """A probability strictly inside (0, 1): a VaR confidence or a test level."""
    try:
        level = float(value)
    except (TypeError, ValueError):
        raise InputError(field, value, "a number strictly between 0 and 1") from None
    if not 0.0 < level < 1.0:
        raise InputError(field, value, "a number strictly between 0 and 1 (e.g. 0.99)")
    return level


def check_hits(hits: ArrayLike, field: str = "hit") -> np.ndarray:
    """A non-empty 0/1 exception series as an ``int8`` array of shape (n_obs,).

    Booleans and numbers equal to 0 or 1 are accepted; anything else (2, 0.5, NaN) is an
    error naming the first bad position.
    """
    array = np.asarray(hits)
    if array.ndim != 1:
        raise InputError(field, f"array of shape {array.shape}", "a one-dimensional series")
    if array.size == 0:
        raise InputError(field, "an empty series", "at least one observation")
    if array.dtype == bool:
        return array.astype(np.int8)
    if not np.issubdtype(array.dtype, np.number):
        raise InputError(field, f"values of type {array.dtype}", "0/1 exception indicators")
    values = array.astype(np.float64)
    bad = ~((values == 0.0) | (values == 1.0))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            field, array[first].item(), "0 or 1 (1 = the loss exceeded VaR)", f"row {first}"
        )
    return values.astype(np.int8)


def check_series(values: ArrayLike, field: str, *, allow_empty: bool = False) -> np.ndarray:
    """A finite float64 series of shape (n_obs,); NaN or inf is an error naming its row."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise InputError(field, f"array of shape {array.shape}", "a one-dimensional series")
    if array.size == 0 and not allow_empty:
        raise InputError(field, "an empty series", "at least one observation")
    bad = ~np.isfinite(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(field, array[first].item(), "a finite number", f"row {first}")
    return array


def check_aligned(**series: Sequence | np.ndarray) -> int:
    """All series have the same length; returns it. Misaligned inputs name both lengths."""
    lengths = {name: len(values) for name, values in series.items()}
    first_name, first_len = next(iter(lengths.items()))
    for name, length in lengths.items():
        if length != first_len:
            raise InputError(
                name,
                f"{length} observations",
                f"as many observations as '{first_name}' ({first_len}); align the series "
                "on their dates first",
            )
    return first_len


def check_dates_aligned(**dates: ArrayLike) -> np.ndarray:
    """Date columns of several series are identical; returns the common dates.

    A VaR forecast must be compared with the P&L of the day it was made for; a shifted or
    gapped date column silently pairs the wrong days, so any difference is an error naming
    the first differing row.
    """
    arrays = {name: np.asarray(values) for name, values in dates.items()}
    first_name, first = next(iter(arrays.items()))
    check_aligned(**arrays)
    for name, array in arrays.items():
        differ = array != first
        if np.any(differ):
            row = int(np.flatnonzero(differ)[0])
            raise InputError(
                name,
                str(array[row]),
                f"the same date as '{first_name}' ({first[row]}); the series are misaligned",
                f"row {row}",
            )
    return first
