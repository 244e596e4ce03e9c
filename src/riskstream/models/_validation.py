"""Checks at the boundary of every model: returns must be finite, long enough and not flat.

"Data integrity over availability": a NaN return, an infinite one or a constant series makes
every volatility and correlation estimate wrong or undefined, so the models refuse them with
an :class:`~riskstream.core.errors.InputError` naming the field, the value and what was
expected, rather than fitting something silently wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riskstream.core.errors import InputError


def as_returns_matrix(
    returns: ArrayLike, *, field: str = "returns", min_obs: int = 2, allow_1d: bool = True
) -> np.ndarray:
    """Validate a panel of returns and return it as a C-contiguous float64 (n_obs, n_assets).

    Parameters
    ----------
    returns : array_like of shape (n_obs, n_assets) or (n_obs,)
        Daily log returns (decimal). A 1-D array is one asset when ``allow_1d``.
    field : str
        Name used in error messages.
    min_obs : int
        Fewest observations the caller's model can be fitted on.

    Raises
    ------
    InputError
        Wrong shape, too few observations, a NaN or infinite value (the first one is named by
        row and column) or a constant column.
    """
    try:
        x = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(field, _short(returns), "an array of numbers") from None
    if x.ndim == 1 and allow_1d:
        x = x[:, None]
    if x.ndim != 2:
        raise InputError(field, f"array of shape {x.shape}", "a 2-D array (n_obs, n_assets)")
    n_obs, n_assets = x.shape
    if n_assets == 0:
        raise InputError(field, f"array of shape {x.shape}", "at least one asset column")
    if n_obs < min_obs:
        raise InputError(f"{field}.n_obs", n_obs, f"at least {min_obs} observations for this model")
    finite = np.isfinite(x)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise InputError(
            f"{field}[{row}, {col}]", float(x[row, col]), "a finite return (no NaN or inf)"
        )
    flat = np.ptp(x, axis=0) == 0.0
    if flat.any():
        col = int(np.flatnonzero(flat)[0])
        raise InputError(
            f"{field}[:, {col}]",
            f"constant series (all {x[0, col]!r})",
            "a series that varies (a constant series has no volatility to model)",
        )
    return np.ascontiguousarray(x)


def as_returns_vector(
    returns: ArrayLike, *, field: str = "returns", min_obs: int = 2
) -> np.ndarray:
    """Validate one series of returns; see :func:`as_returns_matrix`. Returns shape (n_obs,)."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise InputError(field, f"array of shape {x.shape}", "a 1-D series of returns")
    return as_returns_matrix(x, field=field, min_obs=min_obs)[:, 0].copy()


def as_return_row(r_t: ArrayLike, n_assets: int, *, field: str = "r_t") -> np.ndarray:
    """Validate one day's returns for an online ``update``: finite, shape (n_assets,)."""
    row = np.asarray(r_t, dtype=np.float64).reshape(-1)
    if row.shape != (n_assets,):
        raise InputError(field, f"array of shape {row.shape}", f"shape ({n_assets},)")
    if not np.isfinite(row).all():
        i = int(np.flatnonzero(~np.isfinite(row))[0])
        raise InputError(f"{field}[{i}]", float(row[i]), "a finite return (no NaN or inf)")
    return row


def check_positive_int(value: Any, field: str) -> int:
    """``value`` as an int ≥ 1, or an InputError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(field, value, "a positive integer")
    return int(value)


def check_nonnegative_int(value: Any, field: str) -> int:
    """``value`` as an int ≥ 0, or an InputError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InputError(field, value, "a non-negative integer")
    return int(value)


def check_choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    """``value`` lower-cased if it is one of ``choices``, else an InputError."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise InputError(field, value, "one of " + ", ".join(repr(c) for c in choices))
    return value.lower()


def check_unit_interval(value: Any, field: str, *, closed_low: bool = False) -> float:
    """``value`` as a float in (0, 1) (or [0, 1) with ``closed_low``), else an InputError."""
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    v = float(value) if ok else float("nan")
    low_ok = v >= 0.0 if closed_low else v > 0.0
    if not (ok and np.isfinite(v) and low_ok and v < 1.0):
        interval = "[0, 1)" if closed_low else "(0, 1)"
        raise InputError(field, value, f"a number in {interval}")
    return v


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
